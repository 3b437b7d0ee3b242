// The locale for numbers and dates, made safe before anything formats.
//
// A desktop session started without a locale (LANG unset or "C", as in a
// service account or a bare X session) gives the webview
// `navigator.language === "C"`, which is not a BCP 47 tag: `Intl.NumberFormat("C")`
// throws a RangeError, and uPlot calls exactly that when its module loads, so
// the whole UI would stop at "Loading PrintScout…". This module is imported
// first by main.ts: it replaces an invalid `navigator.language` with "en-US"
// (for libraries that read it) and exports the locale our own code passes to
// every Intl/toLocale* call.

function valid(tag: string | undefined): boolean {
  if (!tag) return false;
  try {
    new Intl.NumberFormat(tag);
    return true;
  } catch {
    return false;
  }
}

const asked = typeof navigator !== 'undefined' ? navigator.language : undefined;

export const LOCALE: string = valid(asked) ? (asked as string) : 'en-US';

if (typeof navigator !== 'undefined' && !valid(asked)) {
  try {
    Object.defineProperty(navigator, 'language', { get: () => LOCALE, configurable: true });
    Object.defineProperty(navigator, 'languages', { get: () => [LOCALE], configurable: true });
  } catch {
    /* a frozen navigator: our own calls still use LOCALE */
  }
}

#!/usr/bin/env bash
# Regenerates the application and tray icons (ImageMagick + the Tauri CLI).
# The outputs are committed; run this only after changing the drawing.
#   source.png     1024 px application icon (a printer on a blue tile)
#   32x32.png … icon.icns icon.ico   made from source.png by `tauri icon`
#   tray/*.png     64 px tray icons, one per fleet state (src-tauri/src/tray.rs):
#                  ok (green tick), attention (amber !), error (red ×),
#                  sync-failing (blue !), paused (grey, pause bars)
set -euo pipefail
cd "$(dirname "$0")"
convert -size 1024x1024 xc:none -fill '#1f5f99' -draw "roundrectangle 64,64 960,960 180,180" \
  -fill white -draw "rectangle 300,190 724,420" -draw "roundrectangle 190,400 834,720 60,60" \
  -fill '#1f5f99' -draw "rectangle 300,600 724,620" -fill white -draw "rectangle 300,640 724,850" \
  -fill '#1f5f99' -draw "rectangle 350,700 674,715" -draw "rectangle 350,760 620,775" \
  -fill '#7fd37f' -draw "circle 740,480 770,480" source.png
../node_modules/.bin/tauri icon source.png -o .
rm -rf android ios Square*.png StoreLogo.png
mkdir -p tray
printer() { # name body-colour badge-colour
  convert -size 64x64 xc:none -fill "$2" -draw "rectangle 18,6 46,22" -draw "roundrectangle 6,20 58,46 6,6" \
    -draw "rectangle 18,40 46,58" -fill white -draw "rectangle 21,44 43,55" \
    -fill "$3" -stroke white -strokewidth 3 -draw "circle 48,48 48,33" "tray/$1.png"
}
bang='rectangle 46,39 50,51'
printer ok '#2b2b2b' '#2e9e44'
convert tray/ok.png -stroke white -strokewidth 3 -fill none -draw "polyline 42,48 47,53 55,42" tray/ok.png
printer attention '#2b2b2b' '#e0a000'
convert tray/attention.png -fill white -draw "$bang" -draw "rectangle 46,54 50,57" tray/attention.png
printer error '#2b2b2b' '#d12c2c'
convert tray/error.png -stroke white -strokewidth 3 -draw "line 43,43 53,53" -draw "line 53,43 43,53" tray/error.png
printer sync-failing '#2b2b2b' '#3d6fd6'
convert tray/sync-failing.png -fill white -draw "$bang" -draw "rectangle 46,54 50,57" tray/sync-failing.png
printer paused '#8a8a8a' '#555555'
convert tray/paused.png -fill white -draw "rectangle 42,41 46,55" -draw "rectangle 50,41 54,55" tray/paused.png

#!/usr/bin/env bash
# Rebuild fixtures/: a realistic asset folder (passing pairs, failing assets) for `make demo` and the
# integration tests. Generated media comes from FFmpeg's lavfi sources (deterministic); the few real
# images are copied from ../shared/corpus where its MANIFEST says they come from PyPI or Debian packages
# (licences in fixtures/README.md). Needs: ffmpeg (with libx264, libx265, libvpx), python3.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=../shared/corpus
out=fixtures
rm -rf "$out/pairs" "$out/rejects"
mkdir -p "$out/pairs/astronaut" "$out/pairs/hopper" "$out/rejects/images" "$out/rejects/videos"
ff() { ffmpeg -hide_banner -loglevel error -nostdin -y "$@"; }
x264=(-c:v libx264 -preset veryfast -pix_fmt yuv420p -movflags +faststart)

# --- passing pairs -------------------------------------------------------------------------------
cp "$corpus/images/people/skimage_astronaut.png" "$out/pairs/astronaut/character.png"
ff -f lavfi -i "testsrc2=s=540x960:r=30:d=5" "${x264[@]}" -crf 34 "$out/pairs/astronaut/reference.mp4"
cp "$corpus/images/people/mpl_grace_hopper.jpg" "$out/pairs/hopper/character.jpg"
ff -f lavfi -i "testsrc2=s=720x1280:r=25:d=4" -f lavfi -i "sine=f=440:d=4" "${x264[@]}" -crf 36 \
   -c:a aac -b:a 32k -shortest -f mov "$out/pairs/hopper/reference.mov"

# --- images that fail or warn --------------------------------------------------------------------
img=$out/rejects/images
cp "$corpus/images/people/wesnoth_konrad_rgba.png" "$img/konrad_transparent.png"            # I008
cp "$corpus/images/people/pillow_hopper_orientation_6.jpg" "$img/hopper_128_exif6.jpg"        # I003 I006
cp "$corpus/images/formats/pillow_pil_sample_cmyk.jpg" "$img/sample_cmyk_100.jpg"             # I003 I009
cp "$corpus/images/formats/pillow_iss634_animated.gif" "$img/toy_animated.gif"               # I001 I003 I007
cp "$corpus/images/formats/pillow_hopper.webp" "$img/hopper.webp"                            # I001 I003
cp "$corpus/images/formats/pillow_apng_mode_16bit.png" "$img/apng_16bit.png"                 # I003 I007 I008 I009
cp "$corpus/images/corrupt/pillow_truncated_jpeg.jpg" "$img/truncated.jpg"                   # F001
cp "$corpus/images/corrupt/pillow_decompression_bomb.gif" "$img/decompression_bomb.gif"      # F001
ff -f lavfi -i "testsrc2=s=600x900" -frames:v 1 -f image2 -c:v png "$img/png_named.jpg"       # F002
ff -f lavfi -i "testsrc2=s=3000x1000" -frames:v 1 -q:v 8 "$img/panorama_3000x1000.jpg"       # I005
ff -f lavfi -i "gradients=s=6000x4000:seed=1" -frames:v 1 -q:v 20 "$img/camera_6000x4000.jpg" # I004
ff -f lavfi -i "testsrc2=s=600x800" -frames:v 1 -q:v 6 /tmp/kp_base.jpg
python3 scripts/exif_splice.py /tmp/kp_base.jpg "$img/phone_gps.jpg" --orientation 1 --gps  # I015 I011
ff -f lavfi -i "testsrc2=s=1200x800" -frames:v 1 -q:v 6 /tmp/kp_land.jpg
python3 scripts/exif_splice.py /tmp/kp_land.jpg "$img/sideways_exif6.jpg" --orientation 6    # I006
convert /tmp/kp_base.jpg -colorspace Gray -type Grayscale -quality 85 "$img/grayscale.jpg"     # I009
ff -f lavfi -i "testsrc2=s=600x800" -frames:v 1 /tmp/kp.ppm
cjpeg -arithmetic -quality 80 /tmp/kp.ppm > "$img/arithmetic_coded.jpg" && rm /tmp/kp.ppm          # I014 (libjpeg-turbo-progs)
printf 'not an image\n' > "$img/notes_named.png"                                              # F001

# --- videos that fail or warn --------------------------------------------------------------------
vid=$out/rejects/videos
ff -f lavfi -i "testsrc2=s=360x640:r=15:d=35" "${x264[@]}" -crf 40 "$vid/too_long_35s.mp4"    # V005
ff -f lavfi -i "testsrc2=s=360x640:r=30:d=2" "${x264[@]}" -crf 36 "$vid/too_short_2s.mp4"     # V004
ff -f lavfi -i "testsrc2=s=360x640:r=30:d=3" -f lavfi -i "life=s=360x640:r=30:mold=10:ratio=0.1:death_color=#C83232:life_color=#00ff00,trim=duration=3" \
   -filter_complex "[0:v][1:v]concat=n=2:v=1[v]" -map "[v]" "${x264[@]}" -crf 36 "$vid/two_shots.mp4"  # V010
ff -f lavfi -i "testsrc2=s=360x640:r=30:d=2" -f lavfi -i "life=s=360x640:r=30:mold=10:ratio=0.1:death_color=#C83232:life_color=#00ff00,trim=duration=2" \
   -filter_complex "[0:v][1:v]concat=n=2:v=1[v]" -map "[v]" "${x264[@]}" -crf 36 "$vid/quick_cuts.mp4"  # V010 V011
ff -f lavfi -i "testsrc2=s=360x640:r=30:d=3.5" -vf "tpad=stop_mode=clone:stop_duration=3" \
   "${x264[@]}" -crf 36 "$vid/frozen_tail.mp4"                                                 # V012
ff -f lavfi -i "testsrc2=s=360x640:r=30:d=4" -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 300k \
   "$vid/clip_vp9.webm"                                                                        # V002 V003
# FFmpeg 5.1's CLI writes the display matrix for `rotate` only when stream-copying.
ff -f lavfi -i "testsrc2=s=640x360:r=30:d=4" "${x264[@]}" -crf 36 /tmp/kp_rot.mp4
ff -i /tmp/kp_rot.mp4 -c copy -metadata:s:v:0 rotate=90 -movflags +faststart "$vid/phone_rot90.mp4" # V008
rm -f /tmp/kp_rot.mp4
ff -f lavfi -i "testsrc2=s=360x640:r=30:d=4" -c:v libx265 -preset ultrafast -pix_fmt yuv420p10le \
   -x265-params log-level=error -crf 34 -tag:v hvc1 -movflags +faststart "$vid/hevc_10bit.mp4"  # V003
ff -f lavfi -i "testsrc2=s=480x640:r=30:d=4" -vf setsar=4/3 "${x264[@]}" -crf 36 "$vid/anamorphic.mp4" # V013
ff -f lavfi -i "testsrc2=s=360x640:r=30:d=5" -vf "select='not(eq(mod(n\,3)\,2))'" -fps_mode vfr \
   "${x264[@]}" -crf 36 "$vid/phone_vfr.mp4"                                                    # V009
ff -f lavfi -i "testsrc2=s=1024x540:r=24:d=3.5,scale=4096:2160:flags=neighbor" -c:v libx264 -preset veryfast -crf 45 -pix_fmt yuv420p \
   -movflags +faststart "$vid/cinema_4096x2160.mp4"                                            # V007
ff -f lavfi -i "testsrc2=s=320x180:r=30:d=4" "${x264[@]}" -crf 36 "$vid/tiny_320x180.mp4"     # V007
ff -f lavfi -i "testsrc2=s=360x640:r=25:d=4" -c:v mpeg4 -q:v 12 "$vid/legacy_mpeg4.avi"      # V002 V003
ff -f lavfi -i "sine=f=220:d=4" -c:a aac -b:a 32k "$vid/voiceover_audio_only.mp4"             # V001
# Written to a pipe, so the muxer cannot seek back to store the duration (like browser MediaRecorder).
ffmpeg -hide_banner -loglevel error -nostdin -f lavfi -i "testsrc2=s=360x640:r=30:d=4" -c:v libvpx-vp9 \
   -deadline realtime -cpu-used 8 -b:v 300k -f webm pipe:1 > "$vid/recorder_no_duration.webm"    # V002 V003 V004
# An upload that stopped after a third of the bytes: the faststart index still promises 150 frames.
ff -f lavfi -i "testsrc2=s=360x640:r=30:d=5" "${x264[@]}" -crf 30 /tmp/kp_full.mp4
head -c $(( $(stat -c %s /tmp/kp_full.mp4) / 3 )) /tmp/kp_full.mp4 > "$vid/upload_cut_short.mp4" && rm /tmp/kp_full.mp4  # F001 V011
: > "$vid/upload_failed.mov"                                                                   # F001
printf 'plain text named like a video\n' > "$vid/readme_named.mp4"                            # F001

# --- subject warnings (I010 I013 V014 V015 V016), made from the two PyPI-origin portraits above -------
pairs=$out/pairs
# The astronaut shrunk to 240 px on a 900x1350 wall: her face is ~3.5% of the image height.
ff -i "$pairs/astronaut/character.png" -f lavfi -i "color=c=0x8c8278:s=900x1350" \
   -filter_complex "[0:v]scale=240:240[a];[1:v][a]overlay=330:700" -frames:v 1 -q:v 4 "$img/small_face_on_wall.jpg" # I010
ff -i "$pairs/hopper/character.jpg" -vf "lutyuv=y=val*0.3" -q:v 4 "$img/hopper_underexposed.jpg"  # I013
# Two portraits side by side, a moving box below them (so the clip is not frozen).
ff -loop 1 -i "$pairs/hopper/character.jpg" -loop 1 -i "$pairs/astronaut/character.png" \
   -f lavfi -i "testsrc2=s=668x120:r=15" -filter_complex \
   "[0:v]scale=308:360,setsar=1[a];[1:v]scale=360:360,setsar=1[b];[a][b]hstack[top];[top][2:v]vstack=shortest=1" \
   -t 4 -r 15 "${x264[@]}" -crf 34 "$vid/two_people.mp4"                                        # V015
# The astronaut cut off above her gloves (rows 0-459 of 512): elbows in view, both wrists out of frame,
# a moving pattern below her so the clip is not frozen.
ff -loop 1 -i "$pairs/astronaut/character.png" -f lavfi -i "testsrc2=s=480x120:r=15" -filter_complex \
   "[0:v]crop=512:460:0:0,scale=480:-2,setsar=1[a];[a][1:v]vstack=shortest=1" \
   -t 4 -r 15 "${x264[@]}" -crf 34 "$vid/hands_cropped_out.mp4"                                 # V018
# A fast pan: a 360x360 window sliding 250 px/s across the astronaut enlarged to 1400 px.
ff -loop 1 -framerate 15 -i "$pairs/astronaut/character.png" \
   -vf "scale=1400:1400,crop=360:360:'min(t*250,1000)':500" -t 4 "${x264[@]}" -crf 34 "$vid/fast_pan.mp4" # V014
# Moving test pattern under a heavy Gaussian blur.
# mandelbrot, not testsrc2: testsrc2's wide diagonal stripe slides down the frame and is the only
# thing its row projections see, which the camera-motion estimate takes for a tilt (V014).
ff -f lavfi -i "mandelbrot=s=480x360:r=15,trim=duration=4,format=yuv420p" -vf "gblur=sigma=12" "${x264[@]}" -crf 34 "$vid/blurred.mp4" # V016

printf 'Shot list for the hero character (not media: skipped when the folder is checked).\n' > "$out/shot-list.txt"
rm -f /tmp/kp_base.jpg /tmp/kp_land.jpg
du -sh "$out"

"""A headless push-to-talk client: real WebRTC audio from espeak-ng phrases, the PTT RPCs,
and per-turn measurements on its own clock. One engine under three modes: scripted
scenarios (`run`), load ramps (`load`) and soak runs (`soak`); see `python -m headless`."""

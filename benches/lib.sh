# Shared by the bench scripts (source it). Needs /usr/bin/time and bc.
# race A B: run command lines A and B alternately 3 times (so both see the same load); print
# "wallA cpuA wallB cpuB", each the minimum over the runs (cpu = user + sys seconds).
# RACE_CLEAN, when set, is a command line run before every run (e.g. removing outputs).
race() {
  local a=$1 b=$2 wa="" ca="" wb="" cb="" w c
  for _ in 1 2 3; do
    for side in a b; do
      if [ -n "${RACE_CLEAN:-}" ]; then bash -c "$RACE_CLEAN"; fi
      local cmd; if [ $side = a ]; then cmd=$a; else cmd=$b; fi
      read -r w c < <(/usr/bin/time -f "%e %U %S" bash -c "$cmd >/dev/null 2>&1" 2>&1 | tail -1 | awk '{print $1, $2 + $3}')
      if [ $side = a ]; then
        if [ -z "$wa" ] || [ "$(echo "$w < $wa" | bc -l)" = 1 ]; then wa=$w; fi
        if [ -z "$ca" ] || [ "$(echo "$c < $ca" | bc -l)" = 1 ]; then ca=$c; fi
      else
        if [ -z "$wb" ] || [ "$(echo "$w < $wb" | bc -l)" = 1 ]; then wb=$w; fi
        if [ -z "$cb" ] || [ "$(echo "$c < $cb" | bc -l)" = 1 ]; then cb=$c; fi
      fi
    done
  done
  echo "$wa $ca $wb $cb"
}

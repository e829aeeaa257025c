# Sourced by vm/cluster-pkgs.sh and vm/pacemaker-pkgs.sh (after common.sh): packages for the GUEST,
# never installed on the host.
#   guest_pkgs NAME ROOT LABEL [LIBPATH]
# with the caller's arrays TOP (the packages wanted), BINS (binaries, relative to ROOT, that must
# load in the guest) and the string SKIP (" pkg pkg ": dependencies left out). `apt-get download`s
# TOP plus every package they depend on (Depends/PreDepends, first alternative, breadth first,
# bounded) that the host does not have, into $CACHE/debs/NAME, and extracts them with `dpkg -x`
# into ROOT, merged-/usr style (lib/, bin/, sbin/ moved under usr/: the guest's root is the host's,
# whose /lib, /bin, /sbin point into /usr). Checks with ldd that every one of BINS finds its
# libraries (the extracted ones, then LIBPATH, then the host's). Does nothing when ROOT is there
# for the same TOP (its stamp ROOT/.o2stack-NAME-pkgs: TOP, then every package extracted).
guest_pkgs() {
  local name=$1 root=$2 label=$3 extra=${4:-}
  local want="${TOP[*]}" stamp=$root/.o2stack-$name-pkgs b
  if [ -f "$stamp" ] && [ "$(head -n 1 "$stamp")" = "$want" ]; then
    local complete=1
    for b in "${BINS[@]}"; do [ -x "$root/$b" ] || complete=0; done
    [ $complete = 1 ] && return 0
  fi
  installed() { dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'; }
  compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null || apt-get update -q
  apt-cache show "${TOP[0]}" >/dev/null 2>&1 || apt-get update -q

  local -A seen=()
  local queue=("${TOP[@]}") pkgs=() i p d
  for ((i = 0; i < ${#queue[@]} && i < 500; i++)); do
    p=${queue[$i]}
    [ -n "${seen[$p]:-}" ] && continue
    seen[$p]=1
    pkgs+=("$p")
    while read -r d; do
      d=${d%%:*}                     # libfoo:amd64 -> libfoo
      [ -n "$d" ] && [ -z "${seen[$d]:-}" ] || continue
      case $SKIP in *" $d "*) continue;; esac
      installed "$d" && continue
      queue+=("$d")
    done < <(apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "$p" 2>/dev/null \
               | sed -nE 's/^  (Pre)?Depends: ([^<][^ ]*)$/\2/p')
  done
  echo "setup: $label for the guest: ${pkgs[*]}"

  local debs=$CACHE/debs/$name
  mkdir -p "$debs"
  fetch() { (cd "$debs" && apt-get download -q -o APT::Sandbox::User=root "$@" >/dev/null); }
  fetch "${pkgs[@]}" || { apt-get update -q && fetch "${pkgs[@]}"; } || die "apt-get download ${pkgs[*]} failed"

  local tmp=$root.tmp deb
  rm -rf "$tmp"; mkdir -p "$tmp"
  for p in "${pkgs[@]}"; do
    deb=$(ls -t "$debs/${p}"_*.deb 2>/dev/null | head -n 1)
    [ -n "$deb" ] || die "no .deb for $p in $debs"
    dpkg -x "$deb" "$tmp"
  done
  for d in lib lib64 bin sbin; do
    if [ -d "$tmp/$d" ] && [ ! -L "$tmp/$d" ]; then
      mkdir -p "$tmp/usr/$d"; cp -a "$tmp/$d/." "$tmp/usr/$d/"; rm -rf "${tmp:?}/$d"
    fi
  done
  rm -rf "$tmp/usr/share/doc" "$tmp/usr/share/man" "$tmp/usr/share/lintian"

  local libpath=$tmp/usr/lib/x86_64-linux-gnu:$tmp/usr/lib${extra:+:$extra} miss
  for b in "${BINS[@]}"; do
    [ -x "$tmp/$b" ] || die "the extracted packages have no $b"
    miss=$(LD_LIBRARY_PATH=$libpath ldd "$tmp/$b" 2>&1 | grep 'not found' || true)
    [ -z "$miss" ] || die "$b: libraries missing for the guest: $miss"
  done
  { echo "$want"; echo "${pkgs[*]}"; } > "$tmp/.o2stack-$name-pkgs"
  rm -rf "$root"; mv "$tmp" "$root"
  echo "setup: extracted into $root ($(du -sh "$root" | cut -f1))"
}

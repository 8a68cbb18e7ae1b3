#!/usr/bin/env bash
# Builds the initramfs one VM boots: busybox (static), build/luabpf, every bpf/*.bpf.o, the
# kernel suite (spec/kernel/), the static fixtures and the modules the suite needs, taken from
# the kernel package's own lib/modules (decompressed: busybox insmod reads plain .ko files).
#
#   scripts/kernels/initramfs.sh KERNEL_DIR OUT.cpio.gz [SPEC_FILE...]
#
# INIT=path replaces the init script (the harness spec boots a broken one on purpose).
set -euo pipefail
kdir=${1:?usage: initramfs.sh KERNEL_DIR OUT [SPEC...]}
out=${2:?usage: initramfs.sh KERNEL_DIR OUT [SPEC...]}
shift 2
specs=("$@")

modules=(veth sch_ingress cls_bpf)
root=$(mktemp -d "${out%.cpio.gz}.root.XXXXXX")
trap 'rm -rf "$root"' EXIT

mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,lib/modules,luabpf/bpf,luabpf/spec/kernel}
cp /bin/busybox "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
	[ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
mkdir -p "$root/boot"
cp "$kdir"/boot/config-* "$root/boot/" # .kconfig externs read /boot/config-$(uname -r)
cp build/luabpf "$root/luabpf/luabpf"
cp bpf/*.bpf.o "$root/luabpf/bpf/"
cp spec/kernel/*.lua "$root/luabpf/spec/kernel/"
mkdir -p "$root/luabpf/build/kernels/fixtures"
cp build/kernels/fixtures/* "$root/luabpf/build/kernels/fixtures/" 2>/dev/null || true

# Modules with their dependencies first (modules.dep lists a module's own dependencies).
moddir=$(ls -d "$kdir"/lib/modules/* | head -n 1)
: > "$root/lib/modules/order"
add_module() {
	local rel line dep
	line=$(grep -E "/$1\.ko(\.xz)?:" "$moddir/modules.dep" | head -n 1) || return 0
	rel=${line%%:*}
	for dep in ${line#*:}; do
		add_module "$(basename "${dep%.xz}" .ko)"
	done
	local name
	name=$(basename "${rel%.xz}")
	grep -qx "$name" "$root/lib/modules/order" && return 0
	case "$rel" in
	*.xz) xz -dc "$moddir/$rel" > "$root/lib/modules/$name" ;;
	*) cp "$moddir/$rel" "$root/lib/modules/$name" ;;
	esac
	echo "$name" >> "$root/lib/modules/order"
}
for m in "${modules[@]}"; do add_module "$m"; done

if [ "${#specs[@]}" -gt 0 ]; then
	printf '%s\n' "${specs[@]}" > "$root/luabpf/specs"
else
	: > "$root/luabpf/specs"
fi
cp "${INIT:-scripts/kernels/init.sh}" "$root/init"
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 > "$out.tmp"
mv "$out.tmp" "$out"

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

modules=(veth sch_ingress cls_bpf nf_conntrack)
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

# Modules with their dependencies first. The package has no modules.dep (depmod runs at install):
# each module's own .modinfo names its dependencies ("depends=a,b").
moddir=$(ls -d "$kdir"/lib/modules/* | head -n 1)
: > "$root/lib/modules/order"
add_module() {
	local name=$1 path dep
	grep -qx "$name.ko" "$root/lib/modules/order" && return 0
	path=$(find "$moddir/kernel" \( -name "$name.ko" -o -name "$name.ko.xz" \) | head -n 1)
	[ -n "$path" ] || { echo "initramfs: module $name not in $moddir" >&2; return 1; }
	case "$path" in
	*.xz) xz -dc "$path" > "$root/lib/modules/$name.ko" ;;
	*) cp "$path" "$root/lib/modules/$name.ko" ;;
	esac
	for dep in $(tr '\0' '\n' < "$root/lib/modules/$name.ko" | sed -n 's/^depends=//p' | tr ',' ' '); do
		add_module "$dep"
	done
	echo "$name.ko" >> "$root/lib/modules/order"
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

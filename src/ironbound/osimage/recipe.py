"""What goes into the image: Debian packages, the files laid over them, the boot entries.

Everything an image needs to boot from iSCSI lives here (docs/os-image.md explains
each piece): open-iscsi's initramfs support logs in from the iBFT that iPXE leaves,
the initramfs carries only the modules for that (it is read through the firmware's
slow SAN path), nothing configures the NIC after the initramfs did, iscsid takes the
session over, and a report unit prints where / lives on the serial console.
cloud-init takes the machine's identity from its config drive (a `config-2` LUN
beside the root) and confirms the boot to Ironbound through the drive's vendor data.
"""

SUITE = "bookworm"
VARIANT = "minbase"
PACKAGES = (
    "linux-image-amd64",
    "systemd-sysv",
    "udev",
    "open-iscsi",
    "initramfs-tools",
    "kmod",
    "zstd",  # initramfs-tools compresses with it; the kernel inflates it fast under TCG
    "cloud-init",  # hostname, users and keys, user-data, phone_home, from the config drive
    "openssh-server",
)
# dpkg leaves these out: the root filesystem is written over iSCSI, so every MiB counts.
EXCLUDED_PATHS = (
    "/usr/share/doc/*",
    "/usr/share/man/*",
    "/usr/share/locale/*",
    "/usr/share/info/*",
    "/lib/modules/*/kernel/sound/*",
    "/lib/modules/*/kernel/drivers/gpu/*",
    "/lib/modules/*/kernel/drivers/media/*",
    "/lib/modules/*/kernel/drivers/net/wireless/*",
    "/lib/modules/*/kernel/drivers/infiniband/*",
    "/lib/modules/*/kernel/drivers/staging/*",
    "/lib/modules/*/kernel/drivers/bluetooth/*",
    "/lib/modules/*/kernel/net/bluetooth/*",
    "/lib/modules/*/kernel/net/wireless/*",
    "/lib/modules/*/kernel/net/mac80211/*",
    "/lib/modules/*/kernel/drivers/iio/*",
    "/lib/modules/*/kernel/drivers/isdn/*",
    "/lib/modules/*/kernel/drivers/hid/*",
    "/lib/modules/*/kernel/drivers/usb/*",
    "/lib/modules/*/kernel/drivers/input/*",
    "/lib/modules/*/kernel/drivers/platform/*",
    "/lib/modules/*/kernel/drivers/mtd/*",
)
# Units a booted node does not need; firstboot would prompt on the console and wait.
MASKED_UNITS = (
    "systemd-firstboot.service",
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "fstrim.timer",
    "getty@tty1.service",
    "getty-static.service",  # gettys on tty2-6 when logind is absent: nobody is there
    "systemd-pstore.service",
    "systemd-journal-catalog-update.service",
    "systemd-hwdb-update.service",
)
REPORT_UNIT = "ironbound-report.service"

# cloud-init reads the config drive only (no network metadata service to wait for), and
# leaves the network alone: the NIC carries the iSCSI root, which the initramfs set up
# and which must not go down (so network_data is not applied by this image).
CLOUD_CFG = """\
# Ironbound: the config drive (label config-2) is this image's only datasource.
datasource_list: [ConfigDrive, None]
network:
  config: disabled
# One host key type: RSA key generation takes long under emulation.
ssh_genkeytypes: [ed25519]
"""

ESP_LABEL = "IRONBOUND"
ROOT_LABEL = "ironbound-root"
HOSTNAME = "ironbound-debian"
# net.ifnames=0: the NIC the initramfs configured keeps its name (eth0) in userspace.
KERNEL_ARGS = "ro console=ttyS0,115200 net.ifnames=0 rootwait"

# Read at initramfs build time: lean, zstd, and iSCSI from the iBFT (open-iscsi's hook
# copies /etc/iscsi/iscsi.initramfs in; its local-top script sources it).
INITRAMFS_CONF = """\
# Ironbound: only the modules listed by hooks, fast to read through a SAN boot.
MODULES=list
COMPRESS=zstd
COMPRESSLEVEL=19
RESUME=none
"""
ISCSI_INITRAMFS = """\
# Ironbound: log in to the targets the firmware (iPXE) describes in the iBFT.
ISCSI_AUTO=true
"""
# With MODULES=list an initramfs holds only what hooks add: these, plus what
# open-iscsi's hook adds (iscsi_tcp, iscsi_ibft, crc32c ...) and their dependencies.
INITRAMFS_MODULES = (
    "e1000",
    "virtio_pci",
    "virtio_net",
    "sd_mod",
    "ext4",
    "crc32c_generic",  # crc32c-intel needs SSE4.2, which TCG's default CPU lacks
)
# It runs after open-iscsi's hook, to drop the Chelsio offload drivers that one adds
# (cxgb3i/cxgb4i and their NIC drivers: a third of the initramfs, and no use here).
INITRAMFS_HOOK = """\
#!/bin/sh
# Ironbound: the NIC, disk and filesystem modules an iSCSI root needs, nothing more.
[ "$1" = prereqs ] && echo iscsi && exit 0
. /usr/share/initramfs-tools/hook-functions
for module in {modules}; do
    manual_add_modules "$module"
done
rm -rf "$DESTDIR"/usr/lib/modules/*/kernel/drivers/scsi/cxgbi \
    "$DESTDIR"/usr/lib/modules/*/kernel/drivers/net/ethernet/chelsio
"""

FSTAB = """\
# Ironbound: / is on the iSCSI LUN; no fsck pass (the initramfs mounted it already).
LABEL={root_label} / ext4 rw,noatime,errors=remount-ro 0 0
"""

REPORT_SCRIPT = """\
#!/bin/sh
# Ironbound: say on the serial console where / lives, which iSCSI sessions the OS
# holds, and how many times this root filesystem has booted (the count survives
# an undeploy that keeps the volume).
state=/var/lib/ironbound
mkdir -p "$state"
source=$(findmnt -n -o SOURCE /)
fstype=$(findmnt -n -o FSTYPE /)
session=$(readlink -f "/sys/class/block/${source#/dev/}" | grep -o 'session[0-9]*' | head -n 1)
echo "IRONBOUND-ROOT source=$source fstype=$fstype iscsi=${session:-none}"
sessions=$(iscsiadm -m session 2>/dev/null)
if [ -n "$sessions" ]; then
    echo "$sessions" | while read -r line; do echo "IRONBOUND-ISCSI-SESSION $line"; done
else
    echo "IRONBOUND-ISCSI-SESSION none"
fi
[ -s "$state/first-boot" ] || date -u +%Y-%m-%dT%H:%M:%SZ > "$state/first-boot"
count=$(( $(cat "$state/boot-count" 2>/dev/null || echo 0) + 1 ))
echo "$count" > "$state/boot-count"
sync "$state/first-boot" "$state/boot-count"  # only these: a global sync crawls over iSCSI
echo "IRONBOUND-BOOT-COUNT n=$count first-boot=$(cat "$state/first-boot")"
echo "IRONBOUND-USERSPACE uptime=$(cut -d ' ' -f 1 /proc/uptime)s"
"""
# It runs as soon as / is writable, before udev's coldplug and the rest of the boot
# finish (those take a minute under TCG and tell nothing about the iSCSI root).
REPORT_SERVICE = """\
[Unit]
Description=Ironbound: report the iSCSI root on the serial console
DefaultDependencies=no
After=local-fs.target systemd-remount-fs.service
Before=sysinit.target shutdown.target
Conflicts=shutdown.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/ironbound-report
StandardOutput=tty
StandardError=tty
TTYPath=/dev/console
TTYReset=no
TTYVHangup=no

[Install]
WantedBy=sysinit.target
"""

# SYSLINUX (BIOS) reads the kernel and initramfs from the ESP. GRUB (UEFI) carries
# them in its own memdisk: the firmware loads BOOTX64.EFI in one large read, while
# GRUB's own reads through the SAN disk crawl (0.35 MB/s under TCG: 43 s against 8 s).
SYSLINUX_CFG = """\
SERIAL 0 115200
PROMPT 0
TIMEOUT 0
DEFAULT debian
SAY IRONBOUND-SYSLINUX loading Debian from the iSCSI disk
LABEL debian
  KERNEL /vmlinuz
  INITRD /initrd.img
  APPEND root=LABEL={root_label} {args}
"""
GRUB_CFG = """\
echo "IRONBOUND-GRUB loading Debian from its memdisk"
linux (memdisk)/vmlinuz root=LABEL={root_label} {args}
initrd (memdisk)/initrd.img
boot
"""
GRUB_MODULES = "linux normal echo memdisk tar"

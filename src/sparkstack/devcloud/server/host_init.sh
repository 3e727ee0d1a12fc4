#!/bin/bash
# The "boot" of one namespace host. Runs as the first child of tini (PID 1), already inside the
# host's network namespace and its own UTS, IPC, mount and PID namespaces (see hosts.py).
#
#   host_init.sh STATE_DIR HOSTNAME USER
#
# STATE_DIR (written by hosts.py) holds authorized_keys, etc_hosts, layers, optionally cloud-boot.sh
# (users, keys, files from cloud-config: run once before sshd) and user-data-final (a user_data
# script or runcmd: run once after sshd starts, as cloud-final does). The private disk layers
# live there too. stdout is the host's console log. Writes STATE_DIR/init-done before sshd starts.
# STATE_DIR/sshd-delay (optional, seconds; a test-bed fault, see driver.py's ssdc_sshd_delay)
# makes sshd start that much later, after init-done: the server is up, its sshd is not yet.
set -euo pipefail
umask 022
H="$1" NAME="$2" USER_NAME="$3"
log() { echo "[host-init $NAME] $*"; }
clog() { echo "<14>$(date '+%b %e %H:%M:%S') ec2: $*"; }   # cloud-init's syslog-to-console form

# Copy-on-write system dirs over the image's disk layers (STATE_DIR/layers, top first; none for
# a plain image) over this machine's own (the disk survives a reboot, like a VM's).
LAYERS=()
[ -s "$H/layers" ] && mapfile -t LAYERS < "$H/layers"
for d in etc usr var opt root srv; do
  mkdir -p "$H/upper/$d" "$H/work/$d"
  lower=""
  for layer in "${LAYERS[@]}"; do lower+="$layer/$d:"; done
  mount -t overlay "ssdc-$d" -o "lowerdir=$lower/$d,upperdir=$H/upper/$d,workdir=$H/work/$d" "/$d"
done
mkdir -p "$H/home" "$H/tmp" "$H/vartmp"
chmod 1777 "$H/tmp" "$H/vartmp"
mount --bind "$H/home" /home
mount --bind "$H/vartmp" /var/tmp
# `ip netns exec` copied every /run/netns handle in here: drop them, or this host would keep the
# other namespaces alive after `ip netns del`.
umount --recursive --lazy /run/netns 2>/dev/null || true
mount -t tmpfs -o mode=0755,nosuid,nodev,size=64m ssdc-run /run
mount -t tmpfs -o mode=1777,nosuid,nodev ssdc-shm /dev/shm

echo "Cloud-init v. 24.1-sparkstack running 'init' at $(date -u '+%a, %d %b %Y %H:%M:%S +0000')."
hostname "$NAME"
echo "$NAME" > /etc/hostname
cp "$H/etc_hosts" /etc/hosts
printf '# %s: no DNS server, names come from /etc/hosts\n' "$NAME" > /etc/resolv.conf

# The image's default user, as cloud-init makes it: key-only login, passwordless sudo.
id "$USER_NAME" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash --user-group --groups sudo "$USER_NAME"
usermod -p '*' "$USER_NAME"   # "!" = locked: sshd with UsePAM no refuses even key logins
# A snapshot image knows the user (/etc/passwd is on its disk) but not its home (/home is not).
install -d -m 0755 -o "$USER_NAME" -g "$USER_NAME" "/home/$USER_NAME"
install -d -m 0700 -o "$USER_NAME" -g "$USER_NAME" "/home/$USER_NAME/.ssh"
install -m 0600 -o "$USER_NAME" -g "$USER_NAME" "$H/authorized_keys" "/home/$USER_NAME/.ssh/authorized_keys"
echo "$USER_NAME ALL=(ALL) NOPASSWD:ALL" > /etc/sudoers.d/90-cloud-init-users
chmod 0440 /etc/sudoers.d/90-cloud-init-users

# cloud-config users, ssh_authorized_keys and write_files: once per instance, before sshd.
mkdir -p /var/lib/cloud/instance/sem /var/lib/cloud/instance/scripts
if [ -f "$H/cloud-boot.sh" ] && [ ! -e /var/lib/cloud/instance/sem/config ]; then
  bash "$H/cloud-boot.sh" 2>&1 || log "cloud-config failed with $?"
  touch /var/lib/cloud/instance/sem/config
fi
if [ -f "$H/user-data-final" ] && [ ! -e /var/lib/cloud/instance/sem/final ]; then
  install -m 0700 "$H/user-data-final" /var/lib/cloud/instance/scripts/part-001
fi

# A fresh host key on first boot, shown on the console the way cloud-init shows it.
if [ ! -f /etc/ssh/ssh_host_ed25519_key.ssdc ]; then
  rm -f /etc/ssh/ssh_host_*
  ssh-keygen -q -t ed25519 -N '' -C "root@$NAME" -f /etc/ssh/ssh_host_ed25519_key
  touch /etc/ssh/ssh_host_ed25519_key.ssdc
fi
cp /etc/ssh/ssh_host_ed25519_key.pub "$H/hostkey.pub"
clog "#############################################################"
clog "-----BEGIN SSH HOST KEY FINGERPRINTS-----"
clog "$(ssh-keygen -l -f /etc/ssh/ssh_host_ed25519_key.pub)"
clog "-----END SSH HOST KEY FINGERPRINTS-----"
clog "#############################################################"
echo "-----BEGIN SSH HOST KEY KEYS-----"
cat /etc/ssh/ssh_host_ed25519_key.pub
echo "-----END SSH HOST KEY KEYS-----"
cat > /etc/ssh/sshd_config.d/00-sparkstack.conf <<CONF
ListenAddress 0.0.0.0:22
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
UsePAM no
PrintMotd no
CONF
install -d -m 0755 -o root -g root /run/sshd   # privilege separation dir on the fresh /run
/usr/sbin/sshd -t

delay=$(cat "$H/sshd-delay" 2>/dev/null || true)
case $delay in ''|*[!0-9.]*) delay=0 ;; esac

# Last, hide the root namespace's /tmp, where STATE_DIR may live (nothing reads it after this).
touch "$H/init-done"
mount --bind "$H/tmp" /tmp
cd /
ENV=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root)
finished() { echo "Cloud-init v. 24.1-sparkstack finished at $(date -u '+%a, %d %b %Y %H:%M:%S +0000'). $*"; }
if [ -x /var/lib/cloud/instance/scripts/part-001 ] && [ ! -e /var/lib/cloud/instance/sem/final ]; then
  touch /var/lib/cloud/instance/sem/final
  ( set +e
    "${ENV[@]}" /var/lib/cloud/instance/scripts/part-001 2>&1 | tee -a /var/log/cloud-init-output.log
    finished "user-data exited with ${PIPESTATUS[0]}" ) &
else
  finished "Datasource DataSourceNone."
fi
if [ "$delay" != 0 ] && [ "$delay" != 0.000 ]; then
  log "sshd starts in ${delay}s (test-bed fault ssdc_sshd_delay)"
  sleep "$delay"
fi
log "up, sshd starting"
exec "${ENV[@]}" /usr/sbin/sshd -D -E /var/log/sshd.log

# A shim of what /etc/rc.common, procd.sh and functions.sh give an OpenWrt
# init script, for dash (close to busybox ash): each procd call prints one
# line "CALL ARG..." (arguments separated by a unit separator, \037), and
# config_load/config_get_bool read the UCI file in $SHIM_UCI.

_shim_print() {
	_line="$1"; shift
	for _arg in "$@"; do _line="$_line$(printf '\037')$_arg"; done
	printf '%s\n' "$_line"
}

procd_open_instance() { _shim_print procd_open_instance "$@"; }
procd_set_param() { _shim_print procd_set_param "$@"; }
procd_close_instance() { _shim_print procd_close_instance "$@"; }
procd_add_reload_trigger() { _shim_print procd_add_reload_trigger "$@"; }

config_load() { _SHIM_PACKAGE="$1"; }

# config_get_bool VAR SECTION OPTION DEFAULT, as functions.sh: 1/on/true/yes/enabled
# give 1, 0/off/false/no/disabled give 0, anything else (or none) the default.
config_get_bool() {
	_value="$(awk -v want="$2" -v opt="$3" '
		$1 == "config" { gsub(/\047/, "", $3); section = $3 }
		$1 == "option" && section == want && $2 == opt { v = $3; gsub(/\047|"/, "", v); print v }
	' "$SHIM_UCI" | tail -n 1)"
	case "$_value" in
		1|on|true|yes|enabled) _value=1 ;;
		0|off|false|no|disabled) _value=0 ;;
		*) _value="$4" ;;
	esac
	eval "$1=\$_value"
}

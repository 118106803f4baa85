#!/usr/bin/env bash
# Username/password (ticket) login through terraform: pvesim's tickets live
# TICKET_LIFETIME seconds and every clone takes longer, so the ticket of a
# create expires while the provider waits for the clone: the provider must
# notice the 401, log in again and do the writes that follow (PUT/POST) with
# the new ticket and a valid CSRFPreventionToken. Then, once every ticket
# issued so far is refused, an update and a destroy log in afresh and write
# with CSRF too. pvesim's request log shows who did what.
# Usage: claims_ticket_test.sh PROVIDER_BINARY PVESIM_BINARY [TICKET_LIFETIME]
source "$(dirname "$0")/lib.sh"
tf_setup "$(realpath "$1")"
PVESIM=$(realpath "$2")
LIFETIME=${3:-2}
PASSWORD='Tf-Pass-7f3a9c'
# Tickets carry whole seconds and are refused once older than the lifetime:
# a clone this long always outlives the ticket it started with.
CLONE=$((LIFETIME + 3))

pvesim_start "$PVESIM" tickets --seed 31 --log-requests --user "tf@pve:$PASSWORD" \
  --ticket-lifetime "$LIFETIME" --timing "clone_base=$CLONE"
cd "$(new_workdir tickets)"
config() {
  provider_block password tf@pve "$PASSWORD"
  spread_nodes 1 ticket dhcp "  memory = $1"
}
config 2048 >main.tf
expect_exit 0 "init" tf init

# ticket_facts MARK: what pvesim's log shows after its line MARK: tickets
# issued, requests refused (401), requests made with a token, and ticket
# writes (non-GET, answered 200) with a valid CSRF token after the last
# ticket and after the first ticket issued because of a 401 (a renewal).
ticket_facts() {
  python3 - "$PVE_DATA/log" "$1" <<'PY2'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")][int(sys.argv[2]):]
issued = [i for i, r in enumerate(lines) if r["@message"] == "ticket issued"]
reqs = [(i, r) for i, r in enumerate(lines) if r["@message"] == "request"]
refused = [i for i, r in reqs if r["status"] == 401]
renewals = [i for i in issued if refused and i > refused[0]]
def writes_after(k):
    return sum(1 for i, r in reqs if i > k and r["method"] in ("POST", "PUT", "DELETE")
               and r["path"] != "/access/ticket" and r["auth"] == "ticket"
               and r.get("csrf") == "valid" and r["status"] == 200)
print("tickets=%d" % len(issued))
print("refused=%d" % len(refused))
print("renewals=%d" % len(renewals))
print("token=%d" % sum(1 for i, r in reqs if r["auth"] == "token"))
print("writes_after_last_ticket=%d" % (writes_after(issued[-1]) if issued else 0))
print("writes_after_renewal=%d" % (writes_after(renewals[0]) if renewals else 0))
PY2
}
log_mark() { grep -c '^{' "$PVE_DATA/log" || true; }
fact() { grep "^$1=" <<<"$facts" | cut -d= -f2; }

mark=$(log_mark)
started=$SECONDS
expect_exit 0 "create a node with a ticket login" tf apply -auto-approve
echo "# create took $((SECONDS - started)) s with a ${LIFETIME} s ticket lifetime"
facts=$(ticket_facts "$mark")
echo "# create: $(tr '\n' ' ' <<<"$facts")"
check "the create's ticket expired and was refused (401)" test "$(fact refused)" -ge 1
check "the provider logged in again after the refusal (renewal)" test "$(fact renewals)" -ge 1
check "writes after the renewal carried a valid CSRF token" test "$(fact writes_after_renewal)" -ge 1
check "no API token was used" test "$(fact token)" = 0
read -r node id < <(state_vmids)
check "the node's VM exists" test "$(sim_vmids)" = "$id"

# pvesim refuses a ticket's write without the CSRF token, as Proxmox does.
login=$(curl -sk --data-urlencode "username=tf@pve" --data-urlencode "password=$PASSWORD" \
  "$PVE_URL/api2/json/access/ticket")
ticket=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["data"]["ticket"])' "$login")
status_line=$(curl -sk -o /dev/null -D - -X PUT -b "PVEAuthCookie=$ticket" \
  --data-urlencode "description=no csrf" "$PVE_URL/api2/json/nodes/$node/qemu/$id/config" | head -1)
check "a ticket's PUT without CSRF is refused ($status_line)" \
  grep -q "401 Permission denied - invalid csrf token" <<<"$status_line"

# Wait, with a deadline derived from the lifetime, until that ticket (the
# newest issued) is refused: every ticket the provider had is dead.
ticket_refused() {
  test "$(curl -sk -o /dev/null -w '%{http_code}' -b "PVEAuthCookie=$ticket" \
    "$PVE_URL/api2/json/version")" = 401
}
check "every ticket issued so far has expired" \
  wait_until $((LIFETIME + 3)) "the newest ticket to be refused" ticket_refused

config 3072 >main.tf
mark=$(log_mark)
expect_exit 0 "an update logs in again" tf apply -auto-approve
facts=$(ticket_facts "$mark")
echo "# update: $(tr '\n' ' ' <<<"$facts")"
check "a new ticket was issued for the update" test "$(fact tickets)" -ge 1
check "the update wrote with a valid CSRF token" test "$(fact writes_after_last_ticket)" -ge 1
check "pvesim holds the new memory" test "$(pve GET "/nodes/$node/qemu/$id/config" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["memory"])')" = 3072
expect_exit 0 "the next plan is empty" tf plan -detailed-exitcode

mark=$(log_mark)
expect_exit 0 "destroy with a ticket login" tf destroy -auto-approve
facts=$(ticket_facts "$mark")
check "the destroy's DELETE carried a valid CSRF token" test "$(fact writes_after_last_ticket)" -ge 1
check "nothing is left" test -z "$(sim_vmids)"
finish

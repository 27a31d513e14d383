#!/usr/bin/env bash
# SIP over TLS (--listen tls:ADDR:PORT, --tls-cert, --tls-key): a real TLS
# client (sipsend --tls, OpenSSL) gets its 302 over TLS 1.2 or later and
# checks the server's certificate against the test CA; TLS 1.1 and a plain
# TCP client are refused (tls_failed); a handshake that never comes is cut
# at --tcp-message-timeout. SIGHUP rereads the certificate (new connections
# get it) and keeps the one in use when the new files are broken. With
# --tls-ca, a client without a certificate of that CA is refused, a trunk
# with one is served. Files that do not load stop the start with exit 2.
. "$(dirname "$0")/lib.sh"
FALLBACK=sip:frontdesk@pbx.downtown.hillcountry.example
metric() { stack_http "$FD_ADMIN_PORT" /metrics | awk -v m="frontdesk_$1_total" '$1 == m { print $2 }'; }
command -v openssl >/dev/null || { bad "the openssl command (deploy/deps.sh installs it)"; finish; exit 1; }

# a test CA, the proxy's certificate (127.0.0.1) and a trunk's client one
P=$FD_RUN/pki
mkdir -p "$P"
mk() { openssl "$@" >>"$P/openssl.log" 2>&1; }
mk req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=Frontdesk test CA" \
    -keyout "$P/ca.key" -out "$P/ca.pem"
# server NAME: a certificate for 127.0.0.1 named NAME, signed by the CA
server() {
    mk req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" -keyout "$P/$1.key" -out "$P/$1.csr"
    printf 'subjectAltName=IP:127.0.0.1\n' >"$P/$1.ext"
    mk x509 -req -in "$P/$1.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -CAcreateserial -days 2 \
        -extfile "$P/$1.ext" -out "$P/$1.pem"
}
server proxy-one
server proxy-two
server trunk
[ -s "$P/proxy-one.pem" ] && [ -s "$P/trunk.pem" ] || { bad "test certificates made (see $P/openssl.log)"; finish; exit 1; }
cp "$P/proxy-one.pem" "$P/cert.pem"
cp "$P/proxy-one.key" "$P/key.pem"

sed -e "s/CALLID/tls-1/g" -e "s/CALLER/$((100000 + RANDOM))/g" -e 's|SIP/2.0/UDP|SIP/2.0/TLS|' \
    "$SIPDIR/invite.sip" >"$FD_RUN/tls.sip"
tls() { "$SIPSEND" --tls --to "127.0.0.1:$FD_TLS_PORT" "$@"; }
# subject_now: the CN of the certificate the proxy presents to a new connection
subject_now() {
    openssl s_client -connect "127.0.0.1:$FD_TLS_PORT" -servername 127.0.0.1 </dev/null 2>/dev/null |
        openssl x509 -noout -subject 2>/dev/null | sed 's/.*CN *= *//'
}

stack_start_redis && stack_seed_demo &&
    stack_start_proxy "" --listen tls:127.0.0.1:0 --tls-cert "$P/cert.pem" --tls-key "$P/key.pem" \
        --tcp-message-timeout 500 || exit 1
check "the ports file names the tls listener" [ -n "$FD_TLS_PORT" ]

o=$(tls --ca "$P/ca.pem" --timeout-ms 3000 "$FD_RUN/tls.sip"); rc=$?
check "an INVITE over TLS (the certificate checked against the CA): 302 to staff" \
    eval '[ $rc = 0 ] && [ "$(status_of "$(printf "%s\n" "$o" | sed 1d)")" = 302 ] && [ "$(first_contact "$o")" != "$FALLBACK" ]'
check "TLS 1.2 or later" eval 'printf "%s\n" "$o" | head -n 1 | grep -qE "^tls TLSv1\.[23]$"'
check "the answer names the TLS Via it came with" has "$o" '^Via: SIP/2.0/TLS 127.0.0.1:[0-9]*;branch=z9hG4bK-tls-1-1'

o=$(openssl s_client -connect "127.0.0.1:$FD_TLS_PORT" -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' </dev/null 2>&1)
check "a TLS 1.1 client is refused (alert protocol version)" \
    eval 'printf "%s" "$o" | grep -q "alert protocol version" && printf "%s" "$o" | grep -q "Cipher is (NONE)"'
o=$(openssl s_client -connect "127.0.0.1:$FD_TLS_PORT" -tls1_2 </dev/null 2>&1)
check "a TLS 1.2 client is served" eval 'printf "%s" "$o" | grep -q "^New, TLSv1.2, Cipher is "'
o=$("$SIPSEND" --tcp --to "127.0.0.1:$FD_TLS_PORT" --timeout-ms 2000 "$FD_RUN/tls.sip")
check "plain SIP on the TLS port: no answer, closed" eval '! has "$o" "^SIP/2.0" && has "$o" "^closed$"'
check "counted: tls_failed $(metric tls_failed) >= 2" [ "$(metric tls_failed)" -ge 2 ]
check "logged" log_has "$FD_PROXY_LOG" 'TLS handshake failed.* peer=127\.0\.0\.1:[0-9]*'

t0=$(now_ms)
exec 5<>"/dev/tcp/127.0.0.1/$FD_TLS_PORT"
for _ in $(seq 1 40); do [ "$(metric stream_slow)" = 1 ] && break; sleep 0.05; done
t=$(( $(now_ms) - t0 ))
exec 5<&-
check "a handshake that never comes: cut at --tcp-message-timeout (${t} ms)" \
    eval '[ "$(metric stream_slow)" = 1 ] && [ "$t" -lt 1900 ]'

check "the certificate presented: proxy-one" [ "$(subject_now)" = proxy-one ]
cp "$P/proxy-two.pem" "$P/cert.pem"
cp "$P/proxy-two.key" "$P/key.pem"
proxy_reload || bad "reload"
check "SIGHUP rereads it" log_has "$FD_PROXY_LOG" 'msg="TLS certificate reloaded"'
check "new connections get the new one: proxy-two" [ "$(subject_now)" = proxy-two ]
echo "not a certificate" >"$P/cert.pem"
kill -HUP "$FD_PROXY_PID"
check "broken files at SIGHUP: refused, logged" \
    log_has "$FD_PROXY_LOG" 'msg="TLS certificate not reloaded: the one in use stays" err="--tls-cert: '
check "and the one in use stays: proxy-two, calls served" \
    eval '[ "$(subject_now)" = proxy-two ] && [ "$(status_of "$(tls --timeout-ms 3000 "$FD_RUN/tls.sip" | sed 1d)")" = 302 ]'
stack_stop

# client certificates (--tls-ca): only trunks with one of the CA
cp "$P/proxy-one.pem" "$P/cert.pem"
stack_start_redis && stack_seed_demo &&
    stack_start_proxy "" --listen tls:127.0.0.1:0 --tls-cert "$P/cert.pem" --tls-key "$P/proxy-one.key" \
        --tls-ca "$P/ca.pem" || exit 1
o=$(tls --timeout-ms 2000 "$FD_RUN/tls.sip")
check "--tls-ca: a client without a certificate gets nothing" eval '! has "$o" "^SIP/2.0"'
o=$(tls --cert "$P/trunk.pem" --key "$P/trunk.key" --ca "$P/ca.pem" --timeout-ms 3000 "$FD_RUN/tls.sip")
check "a trunk with a certificate of the CA: 302" [ "$(status_of "$(printf "%s\n" "$o" | sed 1d)")" = 302 ]
openssl s_client -connect "127.0.0.1:$FD_TLS_PORT" -tls1_2 -cert "$P/trunk.pem" -key "$P/trunk.key" \
    -sess_out "$FD_RUN/sess.pem" </dev/null >/dev/null 2>&1
o=$(openssl s_client -connect "127.0.0.1:$FD_TLS_PORT" -tls1_2 -cert "$P/trunk.pem" -key "$P/trunk.key" \
    -sess_in "$FD_RUN/sess.pem" </dev/null 2>&1)
check "the trunk reconnecting resumes its session (client certificates and session resumption)" \
    eval 'printf "%s" "$o" | grep -q "^Reused, TLSv1.2"'
stack_stop

out=$(FRONTDESK_CALLER_KEY=$FD_DEMO_CALLER_KEY "$FD_BIN" --config "$FD_ROOT/rules/examples/demo.yaml" \
    --listen tls:127.0.0.1:0 --admin off --tls-cert "$P/missing.pem" --tls-key "$P/key.pem" 2>&1); rc=$?
check "a certificate that does not load: exit 2 with the reason ($rc)" \
    eval '[ $rc = 2 ] && printf "%s" "$out" | grep -q "^frontdesk: --tls-cert: .*"'
out=$(FRONTDESK_CALLER_KEY=$FD_DEMO_CALLER_KEY "$FD_BIN" --config "$FD_ROOT/rules/examples/demo.yaml" \
    --listen tls:127.0.0.1:0 --admin off --tls-cert "$P/proxy-one.pem" --tls-key "$P/trunk.key" 2>&1); rc=$?
check "a key of another certificate: exit 2, said so" \
    eval '[ $rc = 2 ] && printf "%s" "$out" | grep -q "^frontdesk: --tls-key: .*values mismatch"'
finish

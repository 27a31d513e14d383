/* sipresp.c -- answer bytes and deterministic to-tags; see sipresp.h. */
#include "sipresp.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <osipparser2/osip_parser.h>
#include <sodium.h>

#include "outbuf.h"
#include "version.h"

/* A fixed key: to-tags need to be the same across workers and restarts,
 * not secret. */
static const unsigned char tag_key[crypto_shorthash_KEYBYTES] = "frontdesk-totag";

void sipresp_to_tag(const sip_req_t *r, char out[17])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char in[1024], h[crypto_shorthash_BYTES];
    size_t n = 0;
    const span_t parts[] = { r->call_id, r->from_tag, r->branch };

    for (size_t i = 0; i < 3; i++) {
        size_t l = parts[i].len < 300 ? parts[i].len : 300;
        if (l) memcpy(in + n, parts[i].s, l);
        n += l;
        in[n++] = 0;
    }
    crypto_shorthash(h, in, n, tag_key);
    for (int i = 0; i < 8; i++) {
        out[2 * i] = hex[h[i] >> 4];
        out[2 * i + 1] = hex[h[i] & 15];
    }
    out[16] = '\0';
}

bool sip_is_ack_for_us(const sip_req_t *r)
{
    char tag[17];
    if (r->method != SIP_ACK || r->to_tag.len != 16) return false;
    sipresp_to_tag(r, tag);
    return memcmp(tag, r->to_tag.s, 16) == 0;
}


int sipresp_head(const sip_req_t *r, char *buf, size_t cap)
{
    out_t o = { buf, 0, cap, false };
    bool top_done = false;

    for (unsigned i = 0; i < r->n_hdrs; i++) {
        sip_hdr_t h = r->hdrs[i];
        if (sip_hdr_is(&h, "Via", 'v')) {
            if (top_done) {
                put_field(&o, &h);
                puts_(&o, "\r\n");
                continue;
            }
            /* the top Via with our received=/rport=, as text (libosip2
             * re-serialising it was a seventh of building an answer) */
            char vbuf[SIP_MAX_MSG + 128], *osip_str = NULL;
            size_t first = sip_value_end(h.value, 0), tl = first;
            while (tl && (h.value.s[tl - 1] == ' ' || h.value.s[tl - 1] == '\t')) tl--;
            const char *via = r->top_via ? sip_via_sent_back((span_t){ h.value.s, tl }, r->top_via, vbuf,
                                                             sizeof(vbuf), &osip_str)
                                         : NULL;
            if (!via) return -EINVAL;
            puts_(&o, "Via: ");
            puts_(&o, via);
            osip_free(osip_str);
            if (first < h.value.len) put(&o, h.value.s + first, h.value.len - first);
            puts_(&o, "\r\n");
            top_done = true;
        } else if (sip_hdr_is(&h, "To", 't')) {
            put_field(&o, &h);
            if (!r->to_tag.s) {
                char tag[17];
                sipresp_to_tag(r, tag);
                puts_(&o, ";tag=");
                put(&o, tag, 16);
            }
            puts_(&o, "\r\n");
        } else if (sip_hdr_is(&h, "From", 'f') || sip_hdr_is(&h, "Call-ID", 'i') ||
                   sip_hdr_is(&h, "CSeq", '\0')) {
            put_field(&o, &h);
            puts_(&o, "\r\n");
        }
    }
    if (!top_done) return -EINVAL; /* never answer without the client's Via */
    return o.full ? -ENOSPC : (int)o.len;
}

int sipresp_contacts(char *buf, size_t cap, const char *const *uris, size_t n)
{
    out_t o = { buf, 0, cap, false };
    for (size_t i = 0; i < n; i++) {
        /* q=1.0, 0.9, ... 0.1: written, not printf'd (a snprintf a Contact
         * was a tenth of building a 302) */
        unsigned tenths = i < 10 ? 10 - (unsigned)i : 1;
        char q[] = ">;q=0.0\r\n";
        q[4] = (char)('0' + tenths / 10);
        q[6] = (char)('0' + tenths % 10);
        puts_(&o, "Contact: <");
        puts_(&o, uris[i]);
        put(&o, q, sizeof(q) - 1);
    }
    return o.full ? -ENOSPC : (int)o.len;
}

const char *sipresp_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 302: return "Moved Temporarily";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 416: return "Unsupported URI Scheme";
    case 480: return "Temporarily Unavailable";
    case 481: return "Call/Transaction Does Not Exist";
    case 482: return "Loop Detected";
    case 483: return "Too Many Hops";
    case 500: return "Server Internal Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "Version Not Supported";
    case 513: return "Message Too Large";
    default: return "Unknown";
    }
}

int sipresp_build(char *buf, size_t cap, int status, const char *reason,
                  const char *head, size_t head_len,
                  const char *extra, size_t extra_len)
{
    out_t o = { buf, 0, cap, false };
    const char *why = reason ? reason : sipresp_reason(status);
    char code[3] = { (char)('0' + status / 100 % 10), (char)('0' + status / 10 % 10), (char)('0' + status % 10) };

    /* a reason phrase comes from our code or our rules, never the wire,
     * but keep CR/LF out of the status line whatever it is */
    puts_(&o, "SIP/2.0 ");
    put(&o, code, sizeof(code));
    puts_(&o, " ");
    put(&o, why, strcspn(why, "\r\n"));
    puts_(&o, "\r\n");
    put(&o, head, head_len);
    if (extra_len) put(&o, extra, extra_len);
    puts_(&o, "Server: Frontdesk/" FRONTDESK_VERSION "\r\nContent-Length: 0\r\n\r\n");
    return o.full ? -ENOSPC : (int)o.len;
}

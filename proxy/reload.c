/* reload.c -- RCU swap of the rules snapshot; see reload.h. */
#include "reload.h"

#include <urcu/urcu-memb.h>

int reload_rules(reload_t *r, time_t now, rules_report_t *rep)
{
    rules_t *fresh = NULL, *old;
    rules_load_opts_t lo = { .now = now, .caller_key = r->caller_key,
                             .caller_key_len = r->caller_key_len };
    int rc = rules_load_opts(r->path, &lo, &fresh, rep);
    if (rc < 0) return rc;
    old = r->current;
    rcu_assign_pointer(r->current, fresh);
    if (old) {
        urcu_memb_synchronize_rcu(); /* no worker reads <old> any more */
        rules_unref(old);
    }
    return 0;
}

void reload_free(reload_t *r)
{
    rules_unref(r->current);
    r->current = NULL;
}

void reload_thread_register(void) { urcu_memb_register_thread(); }
void reload_thread_unregister(void) { urcu_memb_unregister_thread(); }
void reload_read_lock(void) { urcu_memb_read_lock(); }
void reload_read_unlock(void) { urcu_memb_read_unlock(); }

const rules_t *reload_current(reload_t *r)
{
    return rcu_dereference(r->current);
}

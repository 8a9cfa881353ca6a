/* SPDX-License-Identifier: MIT */
/* Placeholder while the scheduler is written: exploration never on. */
#include <stdarg.h>

#include "explore/sched.h"

_Atomic bool sched_on;
_Atomic bool sched_tracing_on;

void sched_point(const struct sched_site *site, const void *obj) { (void)site; (void)obj; }
void sched_note(const char *fmt, ...) { (void)fmt; }
enum sched_wait_result sched_wait(const struct sched_site *site, const void *obj)
{
	(void)site;
	(void)obj;
	return SCHED_WAIT_NONE;
}
bool sched_self_active(void) { return false; }
int sched_thread_spawn(const char *name) { (void)name; return -1; }
void sched_thread_start(int token) { (void)token; }
void sched_thread_exit(void) {}
void sched_thread_join(int token) { (void)token; }
bool sched_rcu_read_lock(void) { return false; }
bool sched_rcu_read_unlock(void) { return false; }
bool sched_call_rcu(void *head, void (*fn)(void *head)) { (void)head; (void)fn; return false; }
bool sched_rcu_barrier(void) { return false; }

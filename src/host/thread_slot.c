/* SPDX-License-Identifier: MIT */
#include <stdatomic.h>

#include "host/thread_slot.h"

_Thread_local unsigned host_thread_slot_plus1;

unsigned host_thread_slot_assign(void)
{
	static _Atomic unsigned next;
	unsigned s = atomic_fetch_add_explicit(&next, 1, memory_order_relaxed) %
		     HOST_THREAD_SLOTS;

	host_thread_slot_plus1 = s + 1;
	return s;
}

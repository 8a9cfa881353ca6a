/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "host/thread_slot.h"
#include "host/model_abort.h"

_Thread_local unsigned host_thread_slot_plus1;
_Thread_local _Bool host_thread_slot_owned;
_Atomic unsigned host_thread_slots_hwm;

/* Bit i set: slot i (< HOST_THREAD_SLOT_SHARED) belongs to a live thread. */
static _Atomic uint32_t slots_taken;
static pthread_once_t slot_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t slot_key;

/* Runs when a thread that owns a slot exits. The release orders the
 * owner's last plain counter stores before the next owner's claim
 * (acquire), so the next owner adds to the counts as they stand. A later
 * destructor that uses a slot again claims one again (and pthread calls
 * this destructor once more). */
static void slot_release(void *unused)
{
	unsigned s = host_thread_slot_plus1 - 1;

	(void)unused;
	if (host_thread_slot_plus1 && host_thread_slot_owned)
		atomic_fetch_and_explicit(&slots_taken, ~(UINT32_C(1) << s),
					  memory_order_release);
	host_thread_slot_plus1 = 0;
	host_thread_slot_owned = false;
}

static void slot_key_create(void)
{
	if (pthread_key_create(&slot_key, slot_release)) {
		fprintf(stderr, "tdxmmu: cannot create the thread-slot key\n");
		model_abort();
	}
}

unsigned host_thread_slot_assign(void)
{
	uint32_t taken = atomic_load_explicit(&slots_taken, memory_order_relaxed);
	unsigned s = HOST_THREAD_SLOT_SHARED;

	_Static_assert(HOST_THREAD_SLOTS <= 32, "slots_taken has 32 bits");
	pthread_once(&slot_key_once, slot_key_create);
	for (;;) {
		uint32_t free = ~taken & ((UINT32_C(1) << HOST_THREAD_SLOT_SHARED) - 1);

		if (!free)
			break;
		s = (unsigned)__builtin_ctz(free);
		if (atomic_compare_exchange_weak_explicit(&slots_taken, &taken,
							  taken | (UINT32_C(1) << s),
							  memory_order_acquire,
							  memory_order_relaxed))
			break;
		s = HOST_THREAD_SLOT_SHARED;
	}
	/* Raised before the slot is ours to write (thread_slot.h). */
	for (unsigned hwm = atomic_load_explicit(&host_thread_slots_hwm, memory_order_relaxed);
	     hwm < s + 1 &&
	     !atomic_compare_exchange_weak_explicit(&host_thread_slots_hwm, &hwm, s + 1,
						    memory_order_seq_cst, memory_order_relaxed);)
		;
	host_thread_slot_owned = s != HOST_THREAD_SLOT_SHARED;
	if (host_thread_slot_owned)
		/* Any non-NULL value arms the destructor. */
		pthread_setspecific(slot_key, &host_thread_slot_owned);
	host_thread_slot_plus1 = s + 1;
	return s;
}

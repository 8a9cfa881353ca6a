/* SPDX-License-Identifier: MIT */
/*
 * tdxmmu_run_vcpus(): one thread per vCPU running a guest program (a C
 * function that uses the guest actions), all started together, then joined.
 * Each vCPU is driven by exactly one thread for the duration, as the API
 * requires; host actions may run meanwhile on other threads.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "tdxmmu/tdxmmu.h"

struct run_vcpus {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool go;      /* every thread exists: start */
	bool cancel;  /* a thread could not be created: run nothing */
};

struct vcpu_thread {
	pthread_t tid;
	struct run_vcpus *shared;
	tdxmmu_td *td;
	unsigned vcpu;
	tdxmmu_guest_fn fn;
	void *arg;
	int result;
};

static void *vcpu_thread_main(void *p)
{
	struct vcpu_thread *t = p;
	struct run_vcpus *s = t->shared;
	bool cancel;

	pthread_mutex_lock(&s->lock);
	while (!s->go)
		pthread_cond_wait(&s->cond, &s->lock);
	cancel = s->cancel;
	pthread_mutex_unlock(&s->lock);
	t->result = cancel ? TDXMMU_EBUSY : t->fn(t->td, t->vcpu, t->arg);
	return NULL;
}

int tdxmmu_run_vcpus(tdxmmu_td *td, unsigned nr, const tdxmmu_guest_fn *fns,
		     void *const *args, int *results)
{
	struct run_vcpus s = {
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.cond = PTHREAD_COND_INITIALIZER,
	};
	struct vcpu_thread *t;
	unsigned started;

	if (!td || !fns || nr == 0 || nr > tdxmmu_td_nr_vcpus(td))
		return TDXMMU_EINVAL;
	for (unsigned i = 0; i < nr; i++)
		if (!fns[i])
			return TDXMMU_EINVAL;
	t = calloc(nr, sizeof(*t));
	if (!t)
		return TDXMMU_ENOMEM;
	for (started = 0; started < nr; started++) {
		t[started] = (struct vcpu_thread){
			.shared = &s,
			.td = td,
			.vcpu = started,
			.fn = fns[started],
			.arg = args ? args[started] : NULL,
		};
		if (pthread_create(&t[started].tid, NULL, vcpu_thread_main,
				   &t[started]))
			break;
	}
	pthread_mutex_lock(&s.lock);
	s.go = true;
	s.cancel = started < nr;
	pthread_cond_broadcast(&s.cond);
	pthread_mutex_unlock(&s.lock);
	for (unsigned i = 0; i < started; i++)
		pthread_join(t[i].tid, NULL);
	if (results)
		for (unsigned i = 0; i < nr; i++)
			results[i] = i < started ? t[i].result : TDXMMU_ENOMEM;
	pthread_cond_destroy(&s.cond);
	pthread_mutex_destroy(&s.lock);
	free(t);
	return started < nr ? TDXMMU_ENOMEM : 0;
}

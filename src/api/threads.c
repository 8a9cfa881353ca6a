/* SPDX-License-Identifier: MIT */
/*
 * tdxmmu_run_vcpus(): one thread per vCPU running a guest program (a C
 * function that uses the guest actions), all started together, then joined.
 * Each vCPU is driven by exactly one thread for the duration, as the API
 * requires; host actions may run meanwhile on other threads.
 *
 * tdxmmu_vcpu_enter()/leave(): a vCPU held in the TD by a holder thread of
 * the CPU model (src/cpu/hold.c, where the races are documented).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/api_internal.h"
#include "explore/sched_internal.h"
#include "cpu/cpu.h"
#include "kvm/kvm.h"
#include "kvm/tdx_hooks.h"

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
	int sched_token; /* exploring: its sched thread (explore/sched.h) */
};

static void *vcpu_thread_main(void *p)
{
	struct vcpu_thread *t = p;
	struct run_vcpus *s = t->shared;
	bool cancel;

	/* Exploring, the scheduler starts the thread once the creator has
	 * opened the gate (it does so before its next schedule point). */
	sched_thread_start(t->sched_token);
	pthread_mutex_lock(&s->lock);
	while (!s->go)
		pthread_cond_wait(&s->cond, &s->lock);
	cancel = s->cancel;
	pthread_mutex_unlock(&s->lock);
	t->result = cancel ? TDXMMU_EBUSY : t->fn(t->td, t->vcpu, t->arg);
	sched_thread_exit();
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
		char name[24];

		snprintf(name, sizeof(name), "vcpu%u", started);
		t[started] = (struct vcpu_thread){
			.shared = &s,
			.td = td,
			.vcpu = started,
			.fn = fns[started],
			.arg = args ? args[started] : NULL,
			.sched_token = sched_thread_spawn(name),
		};
		if (pthread_create(&t[started].tid, NULL, vcpu_thread_main,
				   &t[started])) {
			sched_thread_cancel(t[started].sched_token);
			break;
		}
	}
	pthread_mutex_lock(&s.lock);
	s.go = true;
	s.cancel = started < nr;
	pthread_cond_broadcast(&s.cond);
	pthread_mutex_unlock(&s.lock);
	{
		int tokens[SCHED_MAX_THREADS];
		unsigned n = 0;

		for (unsigned i = 0; i < started && n < SCHED_MAX_THREADS; i++)
			tokens[n++] = t[i].sched_token;
		sched_thread_join_all(tokens, n);
	}
	for (unsigned i = 0; i < started; i++) {
		if (sched_abandoned())
			pthread_detach(t[i].tid); /* parked for good */
		else
			pthread_join(t[i].tid, NULL);
	}
	if (sched_abandoned()) {
		/* Exploration gave up on this schedule (deadlock, livelock):
		 * its threads stay parked, some not even started, and may
		 * still read their struct: leak it (explore/sched.c). */
		if (results)
			for (unsigned i = 0; i < nr; i++)
				results[i] = TDXMMU_EBUSY;
		return TDXMMU_EBUSY;
	}
	if (results)
		for (unsigned i = 0; i < nr; i++)
			results[i] = i < started ? t[i].result : TDXMMU_ENOMEM;
	pthread_cond_destroy(&s.cond);
	pthread_mutex_destroy(&s.lock);
	free(t);
	return started < nr ? TDXMMU_ENOMEM : 0;
}

/* ---- a vCPU held in the TD (contract 1.1: vcpu N enter / leave) ---- */

static int hold_result(tdxmmu_td *td, int ret, const char *what, unsigned vcpu)
{
	switch (ret) {
	case 0:
		return TDXMMU_OK;
	case -EINVAL:
		return api_fail(TDXMMU_EINVAL, "%s: %s", what, cpu_last_error());
	case -EBUSY:
		return api_fail(TDXMMU_EBUSY, "%s: %s", what, cpu_last_error());
	case -EPERM:
		return api_fail(TDXMMU_ESTATE, "%s: %s", what, cpu_last_error());
	case -ENOMEM:
		return api_fail(TDXMMU_ENOMEM, "%s: %s", what, cpu_last_error());
	case -EREMOTEIO:
		/* TDH.VP.ENTER refused: KVM_EXIT_INTERNAL_ERROR to the VMM
		 * (cpu_vcpu_enter()), the VM alive. */
		return api_fail(TDXMMU_ESEAMCALL, "%s: %s", what, cpu_last_error());
	case -EIO:
		if (tdxmmu_vm_dead(td) || kvm_is_bugged(td->kvm))
			return api_fail(TDXMMU_EIO, "%s: vcpu %u: the VM is dead", what, vcpu);
		break;
	default:
		break;
	}
	return api_fail(TDXMMU_EBUG, "%s: vcpu %u: %s", what, vcpu, cpu_last_error());
}

TDXMMU_API int tdxmmu_vcpu_enter(tdxmmu_td *td, unsigned vcpu)
{
	if (!td)
		return api_fail(TDXMMU_EINVAL, "vcpu enter: no TD");
	/* KVM refuses KVM_RUN on a dead VM before anything else. */
	if (kvm_is_bugged(td->kvm))
		return api_fail(TDXMMU_EIO, "vcpu enter: vcpu %u: the VM is dead", vcpu);
	return hold_result(td, cpu_vcpu_hold(td->cpu, vcpu), "vcpu enter", vcpu);
}

TDXMMU_API int tdxmmu_vcpu_leave(tdxmmu_td *td, unsigned vcpu)
{
	int ret;

	if (!td)
		return api_fail(TDXMMU_EINVAL, "vcpu leave: no TD");
	/* Leaving always works, so that a dead VM's vCPUs can be let go and
	 * the VM destroyed; the caller still learns that the VM is dead. */
	ret = cpu_vcpu_unhold(td->cpu, vcpu);
	if (ret && ret != -EIO)
		return hold_result(td, ret, "vcpu leave", vcpu);
	if (kvm_is_bugged(td->kvm))
		return api_fail(TDXMMU_EIO, "vcpu leave: vcpu %u left; the VM is dead", vcpu);
	return TDXMMU_OK;
}

/* sse-load: the parent process. It forks the workers (worker.c), watches their shared
 * counters until every client is connected, measures for --duration, stops them, and hands
 * their records to the analysis (analysis.c) and the report (report.c). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sse_load.h"

/* The one global: signal handlers may only set a flag (docs/conventions.md, how the code is
 * written). */
static volatile sig_atomic_t g_interrupted;

static void on_signal(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

static int run_setup(struct run *run)
{
    const struct config *cfg = run->cfg;
    run->sh =
        mmap(NULL, sizeof *run->sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    run->held = mmap(NULL, cfg->clients, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (run->sh == MAP_FAILED || run->held == MAP_FAILED) {
        fprintf(stderr, "sse-load: mmap: %s\n", strerror(errno));
        return -1;
    }
    atomic_init(&run->sh->stop, 0);
    for (unsigned i = 0; i < cfg->procs; i++) {
        atomic_init(&run->sh->w[i].resolved, 0);
        atomic_init(&run->sh->w[i].last_resolved_us, 0);
        atomic_init(&run->sh->w[i].streaming, 0);
        run->recs[i] = tmpfile();
        if (run->recs[i] == NULL) {
            fprintf(stderr, "sse-load: temp file: %s\n", strerror(errno));
            return -1;
        }
    }
    return 0;
}

static void run_kill_workers(struct run *run)
{
    for (unsigned i = 0; i < run->cfg->procs; i++) {
        if (run->pids[i] > 0 && !run->reaped[i]) {
            kill(run->pids[i], SIGKILL);
            waitpid(run->pids[i], NULL, 0);
            run->reaped[i] = true;
        }
    }
}

static int run_spawn(struct run *run)
{
    const struct config *cfg = run->cfg;
    pid_t self = getpid();
    uint32_t first = 0;
    fflush(NULL); /* nothing buffered may be written twice */
    run->t_start_us = sl_real_us();
    for (unsigned i = 0; i < cfg->procs; i++) {
        unsigned n = cfg->clients / cfg->procs + (i < cfg->clients % cfg->procs);
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "sse-load: fork: %s\n", strerror(errno));
            run_kill_workers(run);
            return -1;
        }
        if (pid == 0)
            _exit(sl_worker_main(cfg, run->sh, run->held, i, first, n, run->recs[i], self));
        run->pids[i] = pid;
        first += n;
    }
    return 0;
}

/* A worker that ends before it is told to has failed (out of memory, a crash). */
static bool run_worker_died(struct run *run)
{
    for (unsigned i = 0; i < run->cfg->procs; i++) {
        int status;
        if (!run->reaped[i] && waitpid(run->pids[i], &status, WNOHANG) == run->pids[i]) {
            run->reaped[i] = true;
            fprintf(stderr, "sse-load: worker %u (pid %d) ended early (%s %d)\n", i,
                    (int)run->pids[i], WIFSIGNALED(status) ? "signal" : "exit status",
                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
            return true;
        }
    }
    return false;
}

/* Sums the workers' first-attempt progress; true once every client's attempt resolved. */
static bool run_check_connected(struct run *run, unsigned *streaming)
{
    unsigned resolved = 0;
    int64_t last = 0;
    *streaming = 0;
    for (unsigned i = 0; i < run->cfg->procs; i++) {
        struct wstats *st = &run->sh->w[i];
        resolved += atomic_load(&st->resolved);
        *streaming += atomic_load(&st->streaming);
        int64_t t = atomic_load(&st->last_resolved_us);
        if (t > last)
            last = t;
    }
    if (resolved < run->cfg->clients)
        return false;
    run->t_all_us = last;
    return true;
}

/* Waits for all clients, then for --duration, or for a signal; then stops the workers. */
static int run_watch(struct run *run)
{
    const struct config *cfg = run->cfg;
    int64_t deadline = 0, next_note = sl_mono_ms() + 2000;
    unsigned streaming = 0;
    const struct timespec pause = {0, POLL_MS * 1000000L};
    for (;;) {
        if (g_interrupted) {
            run->interrupted = true;
            fprintf(stderr, "sse-load: interrupted, reporting\n");
            break;
        }
        if (run_worker_died(run)) {
            run_kill_workers(run);
            return -1;
        }
        int64_t now = sl_mono_ms();
        if (!run->all_connected && run_check_connected(run, &streaming)) {
            run->all_connected = true;
            deadline = now + (int64_t)(cfg->duration_s * 1000);
            fprintf(stderr,
                    "sse-load: all %u clients resolved in %.2f s (%u streaming); "
                    "measuring for %g s\n",
                    cfg->clients, (run->t_all_us - run->t_start_us) / 1e6, streaming,
                    cfg->duration_s);
        } else if (!run->all_connected && now >= next_note) {
            fprintf(stderr, "sse-load: connecting: %u streams open\n", streaming);
            next_note = now + 2000;
        } else if (run->all_connected && now >= deadline) {
            break;
        }
        nanosleep(&pause, NULL);
    }
    atomic_store(&run->sh->stop, 1);
    run->t_stop_us = sl_real_us();
    int rc = 0;
    for (unsigned i = 0; i < cfg->procs; i++) {
        int status;
        if (run->reaped[i] || waitpid(run->pids[i], &status, 0) != run->pids[i])
            continue;
        run->reaped[i] = true;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "sse-load: worker %u failed at shutdown\n", i);
            rc = -1;
        }
    }
    return rc;
}

/* ------------------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    struct config cfg = {0};
    struct report rep = {0};
    struct run run = {.cfg = &cfg};
    int rc = sl_parse_args(argc, argv, &cfg);
    if (rc == 0)
        rc = sl_plan_procs(&cfg);
    if (rc != 0)
        return rc < 0 ? 0 : rc;

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (run_setup(&run) != 0 || run_spawn(&run) != 0)
        return 1;
    fprintf(stderr, "sse-load: %u clients, %u processes, %g connects/s, %s\n", cfg.clients,
            cfg.procs, cfg.rate, cfg.url);
    if (run_watch(&run) != 0)
        return 1;
    if (sl_analyse(&run, &rep) != 0)
        return 1;
    sl_print_report(stdout, &cfg, &rep);
    if (cfg.json_path != NULL && sl_write_json(cfg.json_path, &cfg, &rep) != 0)
        return 1;
    return 0;
}

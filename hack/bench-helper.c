/* bench-helper: small static helper for hack/bench.sh.
 *
 *   bench-helper floor ROOTFS PROG [ARGS...]
 *       The cheapest container: new pid, net, ipc, uts and mount namespaces,
 *       chroot to ROOTFS, exec PROG. Exits with PROG's status.
 *
 *   bench-helper floor-pivot ROOTFS PROG [ARGS...]
 *       The same with pivot_root instead of chroot (issue 6 names the floor
 *       "unshare + pivot_root + exec").
 *
 *   bench-helper rss OUTFILE PROG [ARGS...]
 *       Runs PROG, writes the ru_maxrss (KiB) that wait4 reports for it to
 *       OUTFILE, exits with PROG's status. Needed because a process's
 *       ru_maxrss includes the memory of the process it was forked from,
 *       up to its exec: spawned straight from python, every runtime would
 *       show at least the python interpreter's RSS. Forked from this tiny
 *       static program, it shows its own.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int status_code(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return 255;
}

/* The container's side of the floor: chroot, or (pivot) what pivot_root
 * needs: "/" made a slave, the rootfs bound onto itself, pivot_root, the
 * old root detached. */
static int enter_root(const char *root, int pivot)
{
    if (!pivot)
        return chroot(root) < 0 || chdir("/") < 0 ? -1 : 0;
    if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0 ||
        mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0 || chdir(root) < 0 ||
        syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
        return -1;
    return 0;
}

static int floor_main(char **argv, int pivot)
{
    if (unshare(CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS) < 0) {
        perror("floor: unshare");
        return 125;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("floor: fork");
        return 125;
    }
    if (pid == 0) {
        if (enter_root(argv[0], pivot) < 0) {
            perror(pivot ? "floor: pivot_root" : "floor: chroot");
            _exit(126);
        }
        execv(argv[1], argv + 1);
        perror("floor: execv");
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) < 0) {
        perror("floor: waitpid");
        return 125;
    }
    return status_code(st);
}

static int rss_main(char **argv)
{
    pid_t pid = fork();
    if (pid < 0) {
        perror("rss: fork");
        return 125;
    }
    if (pid == 0) {
        execv(argv[1], argv + 1);
        perror("rss: execv");
        _exit(127);
    }
    int st;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) < 0) {
        perror("rss: wait4");
        return 125;
    }
    FILE *f = fopen(argv[0], "w");
    if (!f || fprintf(f, "%ld\n", ru.ru_maxrss) < 0 || fclose(f) != 0) {
        perror("rss: writing result");
        return 125;
    }
    return status_code(st);
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "floor") == 0)
        return floor_main(argv + 2, 0);
    if (argc >= 4 && strcmp(argv[1], "floor-pivot") == 0)
        return floor_main(argv + 2, 1);
    if (argc >= 4 && strcmp(argv[1], "rss") == 0)
        return rss_main(argv + 2);
    fprintf(stderr, "usage: bench-helper floor ROOTFS PROG [ARGS...]\n"
                    "       bench-helper rss OUTFILE PROG [ARGS...]\n");
    return 2;
}

/* /proc readers for the process_* metrics. Run once per scrape, never on a hot path. */
#include <dirent.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include "process_stats.h"

static void read_statm(chat_process_stats *out) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, resident = 0;
  if (f == NULL) return;
  if (fscanf(f, "%lu %lu", &size, &resident) == 2) {
    double page = (double)sysconf(_SC_PAGESIZE);
    out->virtual_bytes = (double)size * page;
    out->resident_bytes = (double)resident * page;
  }
  fclose(f);
}

static void count_fds(chat_process_stats *out) {
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL) return;
  long n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  out->open_fds = (double)(n - 1); /* the directory stream's own descriptor */
}

void chat_process_stats_read(chat_process_stats *out, double uptime_seconds) {
  out->resident_bytes = out->virtual_bytes = out->open_fds = out->max_fds = -1;
  out->cpu_seconds = out->start_time_seconds = -1;
  read_statm(out);
  count_fds(out);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) out->max_fds = (double)rl.rlim_cur;
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) == 0)
    out->cpu_seconds = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  struct timeval now;
  gettimeofday(&now, NULL);
  out->start_time_seconds = (double)now.tv_sec + (double)now.tv_usec / 1e6 - uptime_seconds;
}

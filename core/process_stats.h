/* The process's own resource use, read from /proc for the process_* metrics. */
#ifndef CHAT_PROCESS_STATS_H
#define CHAT_PROCESS_STATS_H

typedef struct chat_process_stats {
  /* Each is negative when it could not be read. */
  double resident_bytes, virtual_bytes; /* /proc/self/statm */
  double open_fds;                      /* entries of /proc/self/fd */
  double max_fds;                       /* RLIMIT_NOFILE */
  double cpu_seconds;                   /* user + system, getrusage */
  double start_time_seconds;            /* wall clock at start, Unix epoch */
} chat_process_stats;

/* uptime_seconds: how long chatd has run, to place the start on the wall clock. */
void chat_process_stats_read(chat_process_stats *out, double uptime_seconds);

#endif

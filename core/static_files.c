#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_server.h"
#include "static_files.h"

enum { MAX_STATIC_BYTES = 4 * 1024 * 1024 };

static const char *content_type(const char *path) {
  const char *dot = strrchr(path, '.');
  if (dot == NULL) return "application/octet-stream";
  if (strcmp(dot, ".html") == 0) return "text/html;charset=UTF-8";
  if (strcmp(dot, ".js") == 0) return "application/javascript;charset=UTF-8";
  if (strcmp(dot, ".css") == 0) return "text/css;charset=UTF-8";
  if (strcmp(dot, ".json") == 0) return "application/json";
  if (strcmp(dot, ".png") == 0) return "image/png";
  if (strcmp(dot, ".svg") == 0) return "image/svg+xml";
  if (strcmp(dot, ".ico") == 0) return "image/x-icon";
  return "application/octet-stream";
}

int chat_static_serve(const char *dir, struct chat_http_conn *conn, const chat_http_request *req) {
  if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) return 0;
  const char *path = req->path;
  /* Only plain paths: no traversal, no hidden files, nothing the API owns. */
  if (path[0] != '/' || strstr(path, "..") || strstr(path, "/.") || strchr(path, '%') ||
      strncmp(path, "/api/", 5) == 0 || strncmp(path, "/actuator", 9) == 0)
    return 0;
  char full[4096];
  int n = snprintf(full, sizeof full, "%s%s%s", dir, path, strcmp(path, "/") == 0 ? "index.html" : "");
  if (n < 0 || (size_t)n >= sizeof full) return 0;
  int fd = open(full, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_STATIC_BYTES) {
    close(fd);
    return 0;
  }
  /* Small files read synchronously: the page and two libraries, cached by the OS. */
  char *body = malloc((size_t)st.st_size + 1);
  ssize_t got = body ? read(fd, body, (size_t)st.st_size) : -1;
  close(fd);
  if (got != st.st_size) {
    free(body);
    return 0;
  }
  const char *headers[] = {"Content-Type", content_type(full), "Cache-Control", "no-cache", NULL};
  chat_http_respond(conn, 200, headers, strcmp(req->method, "HEAD") == 0 ? NULL : body,
                    strcmp(req->method, "HEAD") == 0 ? 0 : (size_t)got);
  free(body);
  return 1;
}

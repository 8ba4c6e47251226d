/* Static files (the chat page and the JavaScript clients it uses) from CHAT_STATIC_DIR. */
#ifndef CHAT_STATIC_FILES_H
#define CHAT_STATIC_FILES_H

#include "http.h"

struct chat_http_conn;

/* Answers GET/HEAD for an existing regular file under `dir` ("/" is index.html) and
 * returns 1; returns 0 (nothing sent) for anything else, which the application answers. */
int chat_static_serve(const char *dir, struct chat_http_conn *conn, const chat_http_request *req);

#endif

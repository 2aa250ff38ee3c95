/* The data channel (docs/protocol.md section 2): the virtio-serial port named foliolab.data.
 * Records are built with record_begin()/record_end() into one shared buffer and sent as one
 * line. Writes wait for the host to be connected (bounded), then never drop data silently:
 * when the host is absent the agent says so on the console once and discards records. */
#ifndef FOLIOLAB_AGENT_CHANNEL_H
#define FOLIOLAB_AGENT_CHANNEL_H

#include <stdbool.h>

#include "json_write.h"

#define CHANNEL_PORT_NAME "foliolab.data"
#define RECORD_MAX_BYTES (256 * 1024)  /* protocol bound per line, newline included */

/* Finds the port (waiting up to wait_ms for it to be announced) and opens it.
 * Returns true when the channel is usable. */
bool channel_open(int wait_ms);
/* "/dev/vport0p1", or "" when there is no channel. */
const char *channel_device(void);
/* The open fd (>= 10, close-on-exec), or -1. */
int channel_fd(void);

/* Starts a record {"type":type,"t":seconds,...} and returns the writer for its fields. */
struct jw *record_begin(const char *type);
/* Closes the record and sends it. A record that overflowed the bound is replaced by an error
 * record saying so. */
void record_end(void);

/* Emits {"type":"error","where":where,"name":name,"message":message} and counts it. */
void record_error(const char *where, const char *name, const char *message);
int records_error_count(void);

/* After done: waits up to wait_ms for the host's ack (docs/protocol.md section 2), which
 * says the host has read every record. Returns at once when the channel is dead or the host
 * has gone (no one is left to wait for). */
enum channel_ack { CHANNEL_ACK_RECEIVED, CHANNEL_ACK_TIMEOUT, CHANNEL_ACK_NO_HOST };
enum channel_ack channel_await_ack(int wait_ms);

/* Splits a record into writes of at most 32 KiB (the virtio-console per-write limit) and
 * sends it. Exposed for the console fallback path and tests of framing. */
bool channel_send(const char *buf, size_t len);

#endif

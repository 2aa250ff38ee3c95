/* Swap set-up (docs/protocol.md section 1, `swap`): a zram device and/or a virtio-blk disk found
 * by its serial, each given a swap header written by the agent and enabled with swapon(2) at
 * the requested priority. */
#ifndef FOLIOLAB_AGENT_SWAP_H
#define FOLIOLAB_AGENT_SWAP_H

#include <stddef.h>
#include <stdint.h>

#include "job.h"

/* Fills page[0..page_size) with a version-1 swap header for a device of device_bytes:
 * version 1 at byte 1024, last_page at 1028 (native endian, as the kernel reads it),
 * "SWAPSPACE2" in the last 10 bytes, zero elsewhere. Returns 0, or -1 when the device holds
 * fewer than 10 pages or page_size is not a power of two >= 4096. */
int swap_header_build(unsigned char *page, size_t page_size, uint64_t device_bytes);

/* swapon(2) flags for a priority (-1: none). */
int swap_flags_for_priority(int priority);

/* Sets up what the job asks for; returns the number of error records emitted.
 * On success the zram device name (e.g. "zram0") is stored for zram.* sampling. */
int swap_setup(const struct job *job);

/* "zram0" when the agent set up a zram swap device, else "". */
const char *swap_zram_name(void);

#endif

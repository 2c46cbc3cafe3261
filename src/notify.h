/*-------------------------------------------------------------------------
 *
 * notify.h
 *	  Telling the outside world: NOTIFY reset_system, and the webhook.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_NOTIFY_H
#define RESET_SYSTEM_NOTIFY_H

#include "postgres.h"

#include "internal.h"
#include "plan.h"

struct json_t;

extern void rs_notify_reset(RsSession *s, RsPlan *plan, int64 reset_id, int64 purge_objects);
extern void rs_notify_purge_finished(int64 reset_id, int64 purged, int64 failed);
extern void rs_notify_refused(struct json_t *entry);
extern int	rs_webhook_deliver(void);
extern bool rs_webhook_pending(void);

#endif							/* RESET_SYSTEM_NOTIFY_H */

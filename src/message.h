/*-------------------------------------------------------------------------
 *
 * message.h
 *	  Quoting user-supplied values for error and log messages.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_MESSAGE_H
#define RESET_SYSTEM_MESSAGE_H

/* longest part of a value echoed in a message, in characters */
#define RS_MESSAGE_VALUE_MAX 64

extern char *rs_message_value(const char *value);

#endif							/* RESET_SYSTEM_MESSAGE_H */

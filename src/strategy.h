/*-------------------------------------------------------------------------
 *
 * strategy.h
 *	  How each deleted table is emptied (TRUNCATE, DELETE or nothing).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_STRATEGY_H
#define RESET_SYSTEM_STRATEGY_H

#include "postgres.h"

#include "plan.h"

extern List *rs_strategy_sequences(RsPlan *plan);
extern void rs_strategy_decide(RsPlan *plan);
extern void rs_strategy_run(RsPlan *plan);
extern const char *rs_method_name(RsMethod m);

#endif							/* RESET_SYSTEM_STRATEGY_H */

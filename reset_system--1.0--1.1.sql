/* reset_system--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION reset_system UPDATE TO '1.1'" to load this file. \quit

/*
 * Upgrade from 1.0 to 1.1.  Every change here is also made in
 * reset_system--1.1.sql, so that a fresh install and an upgraded one end
 * with the same objects (test/t/060_upgrade.pl compares them).
 */

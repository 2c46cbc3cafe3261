-- plan_layout: the plan's table lists stay aligned whatever the labels
-- (multibyte, wide, long), and names are quoted the way SQL needs them.
-- In a UTF8 database of its own, whatever the test cluster's encoding.
CREATE DATABASE rs_layout ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c rs_layout
SET client_encoding = 'UTF8';
SET client_min_messages = warning;
CREATE EXTENSION reset_system;
RESET client_min_messages;
SET reset_system.environment = 'test';
CREATE SCHEMA lay;
CREATE TABLE lay."Weird Name" (id int);
CREATE TABLE lay."dot.table" (id int);
CREATE TABLE lay.plain (id int);
CREATE TABLE lay.wide (id int);
CREATE TABLE lay.long (id int);
CREATE TABLE lay.parted (id int) PARTITION BY LIST (id);
CREATE TABLE lay."Part One" PARTITION OF lay.parted FOR VALUES IN (1);
INSERT INTO lay.plain SELECT generate_series(1, 12345);
INSERT INTO lay."Weird Name" VALUES (1);
INSERT INTO lay.parted VALUES (1);
SELECT reset_register_table('lay."Weird Name"', 'delete', 'élève');
SELECT reset_register_table('lay."dot.table"', 'delete', 'façade ünïcode');
SELECT reset_register_table('lay.plain', 'delete', 'plain');
SELECT reset_register_table('lay.wide', 'delete', '日本語のラベル');
SELECT reset_register_table('lay.long', 'delete', 'a label that is much longer than the forty columns a plan line allows');
SELECT reset_register_table('lay.parted', 'delete', 'part');

-- every name starts in the same display column; the long label sits on a
-- line of its own, its name below it in that column
\pset format unaligned
SELECT line FROM regexp_split_to_table(reset_plan(), E'\n') line WHERE line ~ 'lay\.|forty';
-- (display columns: one per character, two for the wide CJK ones)
SELECT DISTINCT char_length(prefix) + char_length(regexp_replace(prefix, '[^\u3000-\u9fff]', '', 'g')) AS name_column
FROM (SELECT substring(line FROM '^(.*?)lay\.') AS prefix
      FROM regexp_split_to_table(reset_plan(), E'\n') line WHERE line ~ ' lay\.') p;
\pset format aligned

-- the JSON has the names as SQL reads them
SELECT t->>'table' AS tbl, (t->>'table')::regclass::text AS cast_back
FROM jsonb_array_elements(reset_plan_json()->'delete') t ORDER BY 1;

\c contrib_regression
DROP DATABASE rs_layout;

-- An owner given as an int reads back as one: owner keeps its text (filters and dedupe
-- match 42 and "42" alike), owner_int marks the int (NULL: text, as every older row).
ALTER TABLE conveyor_jobs ADD COLUMN owner_int boolean;

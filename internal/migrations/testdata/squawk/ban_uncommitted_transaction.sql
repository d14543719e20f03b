-- squawk rule ban-uncommitted-transaction (crates/squawk_linter/src/rules/ban_uncommitted_transaction.rs)

-- case: uncommitted_transaction_err
-- squawk: flags
-- expect: blocked
-- rules: uncommitted-transaction

BEGIN;
CREATE TABLE users (id bigint);

-- case: committed_transaction_ok
-- squawk: ok
-- expect: ok
-- rules:

BEGIN;
CREATE TABLE users (id bigint);
COMMIT;

-- case: rolled_back_transaction_ok
-- squawk: ok
-- expect: ok
-- rules:

BEGIN;
CREATE TABLE users (id bigint);
ROLLBACK;

-- case: no_transaction_ok
-- squawk: ok
-- expect: ok
-- rules:

CREATE TABLE users (id bigint);

-- case: multiple_transactions_last_uncommitted_err
-- squawk: flags
-- expect: blocked
-- rules: uncommitted-transaction

BEGIN;
CREATE TABLE users (id bigint);
COMMIT;

BEGIN;
CREATE TABLE posts (id bigint);

-- case: start_transaction_uncommitted_err
-- squawk: flags
-- expect: blocked
-- rules: uncommitted-transaction

START TRANSACTION;
CREATE TABLE users (id bigint);

-- case: nested_begin_only_last_uncommitted_err
-- squawk: ok
-- expect: blocked
-- rules: transaction-nesting
-- differs: squawk's transaction-nesting flags the second BEGIN, not this rule

BEGIN;
BEGIN;
COMMIT;

-- case: begin_work_uncommitted_err
-- squawk: flags
-- expect: blocked
-- rules: uncommitted-transaction

BEGIN WORK;
CREATE TABLE users (id bigint);

-- Privileges of the role Tallenne connects as (here tallenne_app), given by the owner of the
-- tables (the role that runs `tallenne db upgrade`, here tallenne_owner) after every upgrade.
-- The application may read and write its tables, but may only add to and read the audit trail:
-- events are never changed or deleted, and the head row of the chain is never deleted.
-- The owner itself still meets the triggers; it must not be the role the application uses,
-- since an owner can disable triggers.
GRANT USAGE ON SCHEMA public TO tallenne_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO tallenne_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO tallenne_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_event FROM tallenne_app;
REVOKE DELETE, TRUNCATE ON audit_head FROM tallenne_app;

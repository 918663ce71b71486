-- audit.policy_matrix: the access matrix in force, read from the live catalog, so a DBA or an
-- auditor can answer "who may do what to which rows" in psql without reading every file.
-- One row per table, role and command: whether the role holds the privilege (for the whole table
-- or only some columns), the policies that apply to it (its own, those of roles it inherits such
-- as wg_tenant, and PUBLIC's), and the row filters they combine into. `wardgraph policies` prints
-- the same rows; docs/policies.md is generated from them.
--
-- security_invoker: the view reads the catalog as whoever queries it, never as its owner. It
-- reads no tenant data, only pg_class, pg_attribute, pg_roles and pg_policies, which every role
-- may read anyway; the grant below only saves an auditor from writing the query.

drop view if exists audit.policy_matrix;
create view audit.policy_matrix with (security_invoker = true) as
with request_roles (role_order, role_name) as (
    -- The roles a request or a lookup runs as. wg_tenant is left out: it is a group whose
    -- grants and policies its members inherit, and the rows of its members show them.
    values (1, 'wg_admin'), (2, 'wg_clinician'), (3, 'wg_nurse'), (4, 'wg_billing'),
           (5, 'wg_auditor'), (6, 'wg_partner'), (7, 'wg_audit_writer'),
           (8, 'wg_authenticator'), (9, 'wg_ledger_writer'), (10, 'wg_api')
),
commands (command_order, command) as (
    values (1, 'SELECT'), (2, 'INSERT'), (3, 'UPDATE'), (4, 'DELETE')
),
tables as (
    select c.oid, n.nspname::text as table_schema, c.relname::text as table_name,
           c.relrowsecurity as rls_enabled, c.relforcerowsecurity as rls_forced
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where n.nspname in ('app', 'platform', 'auth', 'audit') and c.relkind in ('r', 'p')
),
cells as (
    select t.oid, t.table_schema, t.table_name, t.rls_enabled, t.rls_forced,
           r.role_order, r.role_name, k.command_order, k.command,
           pg_catalog.has_table_privilege(r.role_name, t.oid, k.command) as table_granted,
           -- DELETE has no column-level form.
           case when k.command <> 'DELETE' then array(
               select a.attname::text
               from pg_catalog.pg_attribute a
               where a.attrelid = t.oid and a.attnum > 0 and not a.attisdropped
                 and pg_catalog.has_column_privilege(r.role_name, t.oid, a.attnum, k.command)
               order by a.attnum)
           else '{}' end as granted_columns
    from tables t
    cross join request_roles r
    join pg_catalog.pg_roles pr on pr.rolname = r.role_name
    cross join commands k
),
applicable as (
    -- A policy applies to a role when it names the role, a role whose privileges it inherits
    -- (pg_has_role ... USAGE, as row security itself decides), or PUBLIC. INSERT and UPDATE
    -- check new rows with WITH CHECK, or with USING when a policy has no WITH CHECK.
    select c.oid, c.role_name, c.command, p.policyname::text as policy_name,
           p.permissive = 'PERMISSIVE' as permissive,
           p.qual as using_expression,
           coalesce(p.with_check, p.qual) as check_expression
    from cells c
    join pg_catalog.pg_policies p
      on p.schemaname = c.table_schema and p.tablename = c.table_name
    where p.cmd in ('ALL', c.command)
      and exists (
          select 1 from unnest(p.roles) as policy_role (role_name)
          where case when policy_role.role_name = 'public' then true
                     else pg_catalog.pg_has_role(c.role_name, policy_role.role_name, 'USAGE')
                end)
),
combined as (
    -- Permissive policies are OR-ed (none at all means no row), restrictive ones AND-ed.
    -- pg_policies prints every operator expression in parentheses, so only an OR of several
    -- permissive policies needs its own before it is AND-ed.
    select c.oid, c.role_name, c.command,
           array(select a.policy_name from applicable a
                 where a.oid = c.oid and a.role_name = c.role_name
                   and a.command = c.command and a.permissive
                 order by a.policy_name) as permissive_policies,
           array(select a.policy_name from applicable a
                 where a.oid = c.oid and a.role_name = c.role_name
                   and a.command = c.command and not a.permissive
                 order by a.policy_name) as restrictive_policies,
           (select coalesce(case when count(*) > 1
                                 then '(' || string_agg(a.using_expression, ' OR '
                                                        order by a.policy_name) || ')'
                                 else min(a.using_expression) end, 'false')
            from applicable a
            where a.oid = c.oid and a.role_name = c.role_name and a.command = c.command
              and a.permissive and a.using_expression is not null) as permissive_using,
           (select string_agg(a.using_expression, ' AND ' order by a.policy_name)
            from applicable a
            where a.oid = c.oid and a.role_name = c.role_name and a.command = c.command
              and not a.permissive and a.using_expression is not null) as restrictive_using,
           (select coalesce(case when count(*) > 1
                                 then '(' || string_agg(a.check_expression, ' OR '
                                                        order by a.policy_name) || ')'
                                 else min(a.check_expression) end, 'false')
            from applicable a
            where a.oid = c.oid and a.role_name = c.role_name and a.command = c.command
              and a.permissive and a.check_expression is not null) as permissive_check,
           (select string_agg(a.check_expression, ' AND ' order by a.policy_name)
            from applicable a
            where a.oid = c.oid and a.role_name = c.role_name and a.command = c.command
              and not a.permissive and a.check_expression is not null) as restrictive_check
    from cells c
)
select c.table_schema,
       c.table_name,
       c.role_name as role,
       c.command,
       case when c.table_granted then 'yes'
            when cardinality(c.granted_columns) > 0 then 'columns'
            else 'no' end as granted,
       case when not c.table_granted and cardinality(c.granted_columns) > 0
            then c.granted_columns end as columns,
       c.rls_enabled,
       c.rls_forced,
       m.permissive_policies,
       m.restrictive_policies,
       case when c.command = 'INSERT' then null
            when not c.rls_enabled then 'true'
            else concat_ws(' AND ', m.permissive_using, m.restrictive_using) end
           as using_expression,
       case when c.command in ('SELECT', 'DELETE') then null
            when not c.rls_enabled then 'true'
            else concat_ws(' AND ', m.permissive_check, m.restrictive_check) end
           as with_check_expression
from cells c
join combined m on m.oid = c.oid and m.role_name = c.role_name and m.command = c.command
order by c.table_schema, c.table_name, c.role_order, c.command_order;

comment on view audit.policy_matrix is
    'Per table, role and command: the privilege held and the row filters in force. '
    'UPDATE and DELETE with a WHERE clause also need the role''s SELECT row filter.';
comment on column audit.policy_matrix.granted is
    'yes: on the whole table; columns: on the columns listed in "columns" only; no: not at all';
comment on column audit.policy_matrix.using_expression is
    'Rows the command may see or touch: permissive USING expressions OR-ed (false when none '
    'applies), AND-ed with the restrictive ones; true when the table has no row security';
comment on column audit.policy_matrix.with_check_expression is
    'Rows the command may write: WITH CHECK (or USING where a policy has none), combined like '
    'using_expression';

-- Auditors review the rules; DBAs read it as the owner or through pg_read_all_data.
grant usage on schema audit to wg_auditor;
grant select on audit.policy_matrix to wg_auditor;

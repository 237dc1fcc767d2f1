"""The participatory budget, part 2: secret ballots, the count and its results; photos.

* `budget_voters`: who voted, as a French electoral roll's signatures (émargement) — never
  how. One row per person and scope: `paris_wide` true for the Paris-wide envelope, false for
  the one arrondissement a person votes in (`arrondissement_id`); PRIMARY KEY (cycle_id,
  user_id, paris_wide) is "one ballot per person per envelope and one arrondissement per
  person per cycle", enforced on the person's real id with no secret involved.
* `budget_ballots`: the ballots, with no person: `voter` is HMAC-SHA256 of the cycle and the
  person under a key derived from SECRET_KEY (app.budget.ballots), so the voter finds and
  changes their own ballot while the database alone cannot tell whose it is; a random
  `receipt` lets a voter find their ballot in the published count and the Pabulib export. No
  timestamp, and a random id, so the order of the roll does not give the order of the ballots.
  UNIQUE (cycle_id, voter, paris_wide) mirrors the roll; the envelope's scope is checked by a
  composite foreign key to budget_envelopes (id, cycle_id, paris_wide).
* `budget_ballot_choices`: a ballot's projects (approval, knapsack) or grades (majority
  judgment, 0 = the worst); composite foreign keys make every choice a project of the
  ballot's own envelope.
* `budget_results`: the count of each project on a ballot: its votes (or its grades' counts),
  its place in the greedy order, the money left when it was considered, and whether it wins by
  greedy, by the Method of Equal Shares and (majority judgment) its majority grade and rank.
  `budget_envelopes.ballots_counted`/`counted_at` say when its envelope was counted,
  `mes_added_euros` what Equal Shares' completion added to each voter's share (published, so
  anyone can check the winners with one pabutools call) and `pabulib` the file of its ballots.
* `budget_project_photos`: a project's photos (`stage` project: its authors', before the vote)
  and a winner's delivery photos (`stage` delivery: the city's), by SHA-256 as contributions'
  photos are stored (re-encoded, no metadata).
* `budget_cycles.winners_rule`: which rule makes a project `won` (greedy by votes, as Paris and
  CONSUL, or equal_shares); both are always published side by side.

Revision ID: f1a2b3c00018
Revises: e0f1a2b00017
Create Date: 2026-11-26 04:00
"""

from alembic import op

revision = "f1a2b3c00018"
down_revision = "e0f1a2b00017"
branch_labels = None
depends_on = None


def sql(statements: str) -> None:
    op.get_bind().exec_driver_sql(statements)


def upgrade() -> None:
    sql("""
    ALTER TABLE budget_cycles ADD COLUMN winners_rule text NOT NULL DEFAULT 'greedy'
        CONSTRAINT ck_budget_cycles_winners_rule CHECK (winners_rule IN ('greedy', 'equal_shares'));

    ALTER TABLE budget_envelopes
        ADD COLUMN paris_wide boolean GENERATED ALWAYS AS (arrondissement_id IS NULL) STORED,
        ADD COLUMN ballots_counted integer CONSTRAINT ck_budget_envelopes_ballots_counted
            CHECK (ballots_counted >= 0),
        ADD COLUMN counted_at timestamptz,
        -- the euros the Method of Equal Shares' completion added to each voter's share
        ADD COLUMN mes_added_euros bigint CONSTRAINT ck_budget_envelopes_mes_added CHECK (mes_added_euros >= 0),
        -- the Pabulib file of its ballots, written by the count (they no longer change)
        ADD COLUMN pabulib text,
        ADD CONSTRAINT uq_budget_envelopes_id_cycle_id_paris_wide UNIQUE (id, cycle_id, paris_wide);
    ALTER TABLE budget_projects
        ADD CONSTRAINT uq_budget_projects_id_envelope_id UNIQUE (id, envelope_id);

    CREATE TABLE budget_voters (
        cycle_id bigint NOT NULL CONSTRAINT fk_budget_voters_cycle_id_budget_cycles
            REFERENCES budget_cycles (id) ON DELETE CASCADE,
        user_id bigint NOT NULL CONSTRAINT fk_budget_voters_user_id_users
            REFERENCES users (id) ON DELETE CASCADE,
        paris_wide boolean NOT NULL,
        arrondissement_id smallint CONSTRAINT fk_budget_voters_arrondissement_id_arrondissements
            REFERENCES arrondissements (id),
        CONSTRAINT pk_budget_voters PRIMARY KEY (cycle_id, user_id, paris_wide),
        CONSTRAINT ck_budget_voters_scope CHECK (paris_wide = (arrondissement_id IS NULL))
    );
    CREATE INDEX ix_budget_voters_user_id ON budget_voters (user_id);

    CREATE TABLE budget_ballots (
        id uuid NOT NULL DEFAULT gen_random_uuid() CONSTRAINT pk_budget_ballots PRIMARY KEY,
        cycle_id bigint NOT NULL,
        envelope_id bigint NOT NULL,
        paris_wide boolean NOT NULL,
        voter text NOT NULL CONSTRAINT ck_budget_ballots_voter CHECK (voter ~ '^[0-9a-f]{64}$'),
        receipt text NOT NULL CONSTRAINT uq_budget_ballots_receipt UNIQUE
            CONSTRAINT ck_budget_ballots_receipt CHECK (receipt ~ '^[A-Z2-7]{12}$'),
        CONSTRAINT fk_budget_ballots_envelope FOREIGN KEY (envelope_id, cycle_id, paris_wide)
            REFERENCES budget_envelopes (id, cycle_id, paris_wide) ON DELETE CASCADE,
        CONSTRAINT uq_budget_ballots_cycle_id_voter_paris_wide UNIQUE (cycle_id, voter, paris_wide),
        CONSTRAINT uq_budget_ballots_id_envelope_id UNIQUE (id, envelope_id)
    );
    CREATE INDEX ix_budget_ballots_envelope_id ON budget_ballots (envelope_id);

    CREATE TABLE budget_ballot_choices (
        ballot_id uuid NOT NULL,
        envelope_id bigint NOT NULL,
        project_id bigint NOT NULL,
        grade smallint CONSTRAINT ck_budget_ballot_choices_grade CHECK (grade BETWEEN 0 AND 9),
        CONSTRAINT pk_budget_ballot_choices PRIMARY KEY (ballot_id, project_id),
        CONSTRAINT fk_budget_ballot_choices_ballot FOREIGN KEY (ballot_id, envelope_id)
            REFERENCES budget_ballots (id, envelope_id) ON DELETE CASCADE,
        CONSTRAINT fk_budget_ballot_choices_project FOREIGN KEY (project_id, envelope_id)
            REFERENCES budget_projects (id, envelope_id) ON DELETE CASCADE
    );
    -- the count reads an envelope's choices by ballot (grouping identical ballots) and by
    -- project, from this index alone
    CREATE INDEX ix_budget_ballot_choices_envelope ON budget_ballot_choices (envelope_id, ballot_id, project_id)
        INCLUDE (grade);
    CREATE INDEX ix_budget_ballot_choices_project_id ON budget_ballot_choices (project_id);

    CREATE TABLE budget_results (
        project_id bigint NOT NULL CONSTRAINT pk_budget_results PRIMARY KEY,
        envelope_id bigint NOT NULL CONSTRAINT fk_budget_results_envelope_id_budget_envelopes
            REFERENCES budget_envelopes (id) ON DELETE CASCADE,
        votes integer NOT NULL CONSTRAINT ck_budget_results_votes CHECK (votes >= 0),
        grades integer[],
        cost_euros bigint NOT NULL,
        greedy_rank integer NOT NULL,
        left_before_euros bigint NOT NULL,
        greedy_won boolean NOT NULL,
        mes_won boolean NOT NULL,
        majority_grade smallint,
        majority_rank integer,
        CONSTRAINT fk_budget_results_project FOREIGN KEY (project_id, envelope_id)
            REFERENCES budget_projects (id, envelope_id) ON DELETE CASCADE
    );
    CREATE INDEX ix_budget_results_envelope_id ON budget_results (envelope_id, greedy_rank);

    CREATE TABLE budget_project_photos (
        project_id bigint NOT NULL CONSTRAINT fk_budget_project_photos_project_id_budget_projects
            REFERENCES budget_projects (id) ON DELETE CASCADE,
        sha256 text NOT NULL CONSTRAINT ck_budget_project_photos_sha256 CHECK (sha256 ~ '^[0-9a-f]{64}$'),
        stage text NOT NULL CONSTRAINT ck_budget_project_photos_stage CHECK (stage IN ('project', 'delivery')),
        added_by_id bigint CONSTRAINT fk_budget_project_photos_added_by_id_users
            REFERENCES users (id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_budget_project_photos PRIMARY KEY (project_id, sha256)
    );
    CREATE INDEX ix_budget_project_photos_sha256 ON budget_project_photos (sha256);
    """)


def downgrade() -> None:
    sql("""
    DROP TABLE budget_project_photos;
    DROP TABLE budget_results;
    DROP TABLE budget_ballot_choices;
    DROP TABLE budget_ballots;
    DROP TABLE budget_voters;
    ALTER TABLE budget_projects DROP CONSTRAINT uq_budget_projects_id_envelope_id;
    ALTER TABLE budget_envelopes DROP CONSTRAINT uq_budget_envelopes_id_cycle_id_paris_wide,
        DROP COLUMN pabulib, DROP COLUMN mes_added_euros, DROP COLUMN counted_at, DROP COLUMN ballots_counted,
        DROP COLUMN paris_wide;
    ALTER TABLE budget_cycles DROP COLUMN winners_rule;
    """)

"""The participatory budget: its counting rules on plain values (app.budget.rules); cycles,
envelopes, projects, feasibility, delivery and the import of the city's past winners (models,
services, views, importer); ballots follow."""

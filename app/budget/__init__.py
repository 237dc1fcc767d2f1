"""The participatory budget: its counting rules (app.budget.rules) first; cycles, projects and
ballots follow."""

"""The planner's side: statistics API, dashboard, exports and the leafmap report."""

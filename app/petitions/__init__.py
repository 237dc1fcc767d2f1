"""E-petitions: a resident's petition, moderated, signed once per verified account, referred
to the Conseil de Paris at its threshold, answered by the city."""

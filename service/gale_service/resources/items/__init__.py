"""Items, the sample resource: a name, a description and tags; listed by tag, shown live on
the home page. Rename or replace this package when you start your own service from Gale."""

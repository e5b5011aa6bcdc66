"""`promote.*`: move the environment's registry alias when the gates hold, and its inverse
(rollback); `promoted` finds the version an environment serves."""

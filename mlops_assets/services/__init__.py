"""What talks to the model registry on behalf of the assets, through interfaces it declares
(`typing.Protocol`): the MlflowRegistry resource implements them, unit tests use in-memory ones."""

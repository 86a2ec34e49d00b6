namespace Smelt.Training.Tests;

/// <summary>
/// Test classes that seed or draw from torch's process-wide CPU generator share this collection, so xunit runs them one at a
/// time: a draw from a class running in parallel would shift another's random stream. Drawing includes training runs
/// (seeding, dropout) and building models (nn.Linear and Embedding initialise their weights from it).
/// </summary>
[CollectionDefinition(Collection)]
public sealed class TorchRng
{
    public const string Collection = "torch-rng";
}

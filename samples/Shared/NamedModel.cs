using System;
using static TorchSharp.torch;

namespace ResidualNet.Samples;

/// <summary>A model the samples can train: a name (file names, legends) and a factory (called after seeding).</summary>
/// <param name="Name">Name such as <c>plain-20</c>.</param>
/// <param name="Create">Builds a fresh, randomly initialised classifier for 1 x 28 x 28 input and 10 classes.</param>
public sealed record NamedModel(string Name, Func<nn.Module<Tensor, Tensor>> Create);

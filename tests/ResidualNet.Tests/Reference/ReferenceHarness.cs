using System;
using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using ResidualNet.Weights;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ResidualNet.Tests.Reference;

/// <summary>Which listing of the .NET network's keys the harness compares with Python's list.</summary>
internal enum KeyListing
{
    /// <summary><c>network.state_dict()</c> as it is: what acceptance item 2 requires.</summary>
    StateDict,

    /// <summary>
    /// <see cref="StateDictOrder.InPyTorchOrder"/>: the same entries in PyTorch's order. For networks whose
    /// <c>state_dict</c> keeps TorchSharp's order (every parameter before any buffer), such as TorchVision (.NET).
    /// </summary>
    PyTorchOrder,
}

/// <summary>What the harness found for one model.</summary>
/// <param name="Model">The torchvision model name.</param>
/// <param name="PythonKeyCount">How many state_dict entries Python's model has.</param>
/// <param name="DotNetKeyCount">How many the .NET model has.</param>
/// <param name="KeyDifference">Null when names, order and shapes agree; otherwise the first difference and the keys on one side only.</param>
/// <param name="MaxAbsLogitDifference">The largest absolute logit difference (NaN when the keys differ and nothing was compared).</param>
/// <param name="MaxAbsLogit">The largest absolute Python logit, for scale.</param>
internal sealed record ReferenceComparison(
    string Model, int PythonKeyCount, int DotNetKeyCount, string? KeyDifference, double MaxAbsLogitDifference, double MaxAbsLogit)
{
    public bool KeysEqual => KeyDifference is null;
}

/// <summary>
/// Acceptance item 2 of issue 3: a .NET network built by a factory has exactly Python torchvision's state_dict
/// keys (names, order and shapes), and with the weights saved by Python it computes the same logits for a fixed
/// input within <see cref="LogitTolerance"/>. The factory is a parameter, so the same check runs on TorchSharp's
/// TorchVision package today and on ResidualNet's own presets.
/// </summary>
internal static class ReferenceHarness
{
    /// <summary>The largest absolute logit difference accepted.</summary>
    public const double LogitTolerance = 1e-4;

    /// <summary>Builds the model with <paramref name="factory"/>, compares keys, loads Python's weights and compares logits.</summary>
    public static ReferenceComparison Compare(
        string model, Func<string, Module<Tensor, Tensor>> factory, long[]? inputShape = null, KeyListing listing = KeyListing.StateDict)
    {
        using var reference = TorchvisionReference.Create(model, inputShape);
        using var network = factory(model);
        return Compare(reference, network, listing);
    }

    /// <summary>Compares an already built network with a reference.</summary>
    public static ReferenceComparison Compare(
        TorchvisionReference reference, Module<Tensor, Tensor> network, KeyListing listing = KeyListing.StateDict)
    {
        using var scope = NewDisposeScope();
        var state = listing == KeyListing.StateDict ? network.state_dict() : StateDictOrder.InPyTorchOrder(network);
        var dotnetKeys = state.Select(kv => new ReferenceKey(kv.Key, kv.Value.shape, kv.Value.dtype.ToString())).ToList();
        string? difference = DescribeKeyDifference(reference.Keys, dotnetKeys);
        double maxLogit = reference.Logits().abs().max().item<float>();
        if (difference is not null)
        {
            return new ReferenceComparison(reference.Model, reference.Keys.Count, dotnetKeys.Count, difference, double.NaN, maxLogit);
        }

        ModelWeights.Load(network, reference.WeightsPath);
        bool wasTraining = network.training;
        network.eval();
        try
        {
            using var noGrad = no_grad();
            var logits = network.call(reference.Input());
            logits.shape.Should().Equal(reference.LogitsShape, "the .NET logits must have Python's shape");
            double maxDifference = (logits - reference.Logits()).abs().max().item<float>();
            return new ReferenceComparison(reference.Model, reference.Keys.Count, dotnetKeys.Count, null, maxDifference, maxLogit);
        }
        finally
        {
            network.train(wasTraining);
        }
    }

    /// <summary>Fails unless keys, order, shapes and logits agree.</summary>
    public static ReferenceComparison AssertMatches(
        string model, Func<string, Module<Tensor, Tensor>> factory, long[]? inputShape = null, KeyListing listing = KeyListing.StateDict)
    {
        var result = Compare(model, factory, inputShape, listing);
        result.KeyDifference.Should().BeNull($"{model}'s state_dict keys must equal Python torchvision's (names, order, shapes)");
        result.MaxAbsLogitDifference.Should().BeLessThanOrEqualTo(
            LogitTolerance, $"{model}'s logits must equal Python torchvision's (largest |logit| {result.MaxAbsLogit:G4})");
        return result;
    }

    /// <summary>Null when both lists agree in names, order and shapes; otherwise a description of the differences.</summary>
    public static string? DescribeKeyDifference(IReadOnlyList<ReferenceKey> python, IReadOnlyList<ReferenceKey> dotnet)
    {
        int common = Math.Min(python.Count, dotnet.Count);
        int first = Enumerable.Range(0, common)
            .Where(i => python[i].Name != dotnet[i].Name || !python[i].Shape.SequenceEqual(dotnet[i].Shape))
            .DefaultIfEmpty(python.Count == dotnet.Count ? -1 : common)
            .First();
        if (first < 0)
        {
            return null;
        }

        var pythonNames = python.Select(k => k.Name).ToHashSet();
        var dotnetNames = dotnet.Select(k => k.Name).ToHashSet();
        var onlyPython = python.Where(k => !dotnetNames.Contains(k.Name)).Select(k => k.Name).ToList();
        var onlyDotnet = dotnet.Where(k => !pythonNames.Contains(k.Name)).Select(k => k.Name).ToList();
        string at(IReadOnlyList<ReferenceKey> keys) => first < keys.Count ? keys[first].ToString() : "(end)";
        return $"{python.Count} Python keys vs {dotnet.Count} .NET keys; first difference at index {first}: " +
               $"Python {at(python)} vs .NET {at(dotnet)}; only in Python ({onlyPython.Count}): " +
               $"{string.Join(", ", onlyPython.Take(10))}; only in .NET ({onlyDotnet.Count}): {string.Join(", ", onlyDotnet.Take(10))}";
    }
}

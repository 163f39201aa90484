using System;
using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using ResidualNet.Layers;
using ResidualNet.Weights;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ResidualNet.TestSupport.Reference;

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
/// <param name="KeyDifference">Null when names, order, shapes and dtypes agree; otherwise the first difference and the keys on one side only.</param>
/// <param name="MaxAbsLogitDifference">The largest absolute logit difference (NaN when the keys differ and nothing was compared).</param>
/// <param name="MaxAbsLogit">The largest absolute Python logit, for scale.</param>
/// <param name="WeightDifference">Fixture only: null when the formula weights written into the network have Python's checksums.</param>
internal sealed record ReferenceComparison(
    string Model, int PythonKeyCount, int DotNetKeyCount, string? KeyDifference, double MaxAbsLogitDifference, double MaxAbsLogit,
    string? WeightDifference = null)
{
    public bool KeysEqual => KeyDifference is null;
}

/// <summary>
/// Acceptance item 2 of issue 3: a .NET network built by a factory has exactly Python torchvision's state_dict
/// keys (names, order, shapes and dtypes), and with the same weights it computes the same logits for a fixed input
/// within <see cref="LogitTolerance"/>. Two sources of "Python's side": a committed <see cref="ReferenceFixture"/>
/// (formula weights, no Python at test time: the default run) or a live <see cref="TorchvisionReference"/> (Python
/// runs and saves its weights; Category=Python). The factory is a parameter, so the same check runs on TorchSharp's
/// TorchVision package and on ResidualNet's own presets.
/// </summary>
internal static class ReferenceHarness
{
    /// <summary>The largest absolute logit difference accepted.</summary>
    public const double LogitTolerance = 1e-4;

    /// <summary>Live Python: builds the model with <paramref name="factory"/>, compares keys, loads Python's weights and compares logits.</summary>
    public static ReferenceComparison Compare(
        string model, Func<string, Module<Tensor, Tensor>> factory, long[]? inputShape = null, KeyListing listing = KeyListing.StateDict)
    {
        using var reference = TorchvisionReference.Create(model, inputShape);
        using var network = factory(model);
        return Compare(reference, network, listing);
    }

    /// <summary>Live Python: compares an already built network with a reference (loads its weights file).</summary>
    public static ReferenceComparison Compare(
        TorchvisionReference reference, Module<Tensor, Tensor> network, KeyListing listing = KeyListing.StateDict)
    {
        return Compare(
            reference.Model, reference.Keys, network, listing, reference.Input, reference.Logits, reference.LogitsShape,
            load: () => { ModelWeights.Load(network, reference.WeightsPath); return null; });
    }

    /// <summary>
    /// Fixture: compares keys with the fixture's, fills the network with the formula weights (checking them against
    /// the checksums Python recorded) and compares the logits for the formula input.
    /// </summary>
    public static ReferenceComparison Compare(ReferenceFixture fixture, Module<Tensor, Tensor> network, KeyListing listing = KeyListing.StateDict)
    {
        return Compare(
            fixture.Model, fixture.Keys, network, listing, fixture.Input, fixture.Outputs, fixture.OutputShape,
            load: () => DescribeWeightDifference(fixture.Keys, FormulaWeights.Fill(network)));
    }

    /// <summary>Live Python: fails unless keys, order, shapes, dtypes and logits agree.</summary>
    public static ReferenceComparison AssertMatches(
        string model, Func<string, Module<Tensor, Tensor>> factory, long[]? inputShape = null, KeyListing listing = KeyListing.StateDict)
        => AssertMatches(Compare(model, factory, inputShape, listing), "Python torchvision's");

    /// <summary>Fixture: fails unless keys, order, shapes, dtypes and logits agree with <c>Fixtures/&lt;model&gt;.json</c>.</summary>
    public static ReferenceComparison AssertMatchesFixture(
        string model, Func<string, Module<Tensor, Tensor>> factory, KeyListing listing = KeyListing.StateDict)
    {
        var fixture = ReferenceFixture.Load(model);
        using var network = factory(model);
        return AssertMatches(Compare(fixture, network, listing), $"the fixture's ({fixture.Versions})");
    }

    private static ReferenceComparison AssertMatches(ReferenceComparison result, string whose)
    {
        result.KeyDifference.Should().BeNull($"{result.Model}'s state_dict keys must equal {whose} (names, order, shapes, dtypes)");
        result.WeightDifference.Should().BeNull($"the formula weights of {result.Model} must equal {whose} bit for bit");
        result.MaxAbsLogitDifference.Should().BeLessThanOrEqualTo(
            LogitTolerance, $"{result.Model}'s logits must equal {whose} (largest |logit| {result.MaxAbsLogit:G4})");
        return result;
    }

    private static ReferenceComparison Compare(
        string model,
        IReadOnlyList<ReferenceKey> expectedKeys,
        Module<Tensor, Tensor> network,
        KeyListing listing,
        Func<Tensor> input,
        Func<Tensor> expectedLogits,
        long[] logitsShape,
        Func<string?> load)
    {
        using var scope = NewDisposeScope();
        var state = listing == KeyListing.StateDict ? network.state_dict() : StateDictOrder.InPyTorchOrder(network);
        var dotnetKeys = state.Select(kv => new ReferenceKey(kv.Key, kv.Value.shape, kv.Value.dtype.ToString())).ToList();
        string? difference = DescribeKeyDifference(expectedKeys, dotnetKeys);
        var expected = expectedLogits();
        double maxLogit = expected.abs().max().item<float>();
        if (difference is not null)
        {
            return new ReferenceComparison(model, expectedKeys.Count, dotnetKeys.Count, difference, double.NaN, maxLogit);
        }

        string? weightDifference = load();
        if (weightDifference is not null)
        {
            return new ReferenceComparison(model, expectedKeys.Count, dotnetKeys.Count, null, double.NaN, maxLogit, weightDifference);
        }

        bool wasTraining = network.training;
        network.eval();
        try
        {
            using var noGrad = no_grad();
            var logits = network.call(input());
            logits.shape.Should().Equal(logitsShape, "the .NET logits must have Python's shape");
            double maxDifference = (logits - expected).abs().max().item<float>();
            return new ReferenceComparison(model, expectedKeys.Count, dotnetKeys.Count, null, maxDifference, maxLogit);
        }
        finally
        {
            network.train(wasTraining);
        }
    }

    /// <summary>Null when every written checksum equals the fixture's; otherwise the keys whose formula values differ.</summary>
    public static string? DescribeWeightDifference(IReadOnlyList<ReferenceKey> fixture, IReadOnlyList<(string Name, string Bits)> written)
    {
        var expected = fixture.ToDictionary(k => k.Name, k => k.Bits);
        var wrong = written.Where(w => !expected.TryGetValue(w.Name, out var bits) || bits != w.Bits).Select(w => w.Name).ToList();
        return wrong.Count == 0
            ? null
            : $"{wrong.Count} entries differ from the values Python wrote (FormulaWeights and make_fixtures.py disagree): {string.Join(", ", wrong.Take(10))}";
    }

    /// <summary>Null when both lists agree in names, order, shapes and dtypes; otherwise a description of the differences.</summary>
    public static string? DescribeKeyDifference(IReadOnlyList<ReferenceKey> python, IReadOnlyList<ReferenceKey> dotnet)
    {
        int common = Math.Min(python.Count, dotnet.Count);
        int first = Enumerable.Range(0, common)
            .Where(i => python[i].Name != dotnet[i].Name || !python[i].Shape.SequenceEqual(dotnet[i].Shape)
                || !string.Equals(python[i].DType, dotnet[i].DType, StringComparison.OrdinalIgnoreCase))
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

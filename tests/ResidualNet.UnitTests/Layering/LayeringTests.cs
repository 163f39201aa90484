using System;
using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using ResidualNet.Models;
using Xunit;

namespace ResidualNet.UnitTests.Layering;

/// <summary>
/// The library's namespaces form layers, and code only uses its own layer or the ones below it
/// (docs/architecture.md, "Layers"). The check reads every type of the ResidualNet assembly, signatures and
/// method bodies alike (<see cref="TypeReferences"/>).
/// </summary>
public class LayeringTests
{
    /// <summary>
    /// The layers, lowest first. A namespace may use its own types and those of a lower rank; namespaces of one rank
    /// (the tools) may not use each other.
    /// </summary>
    internal static readonly IReadOnlyDictionary<string, int> Ranks = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        ["ResidualNet"] = 0,               // helpers every folder may use (ShapeText, CorruptFileException)
        ["ResidualNet.Runtime"] = 0,       // the native guard (OneDnnGuard) that every entry point runs first
        ["ResidualNet.Layers"] = 1,        // layers and module primitives (folding one pair, checkpointing, state_dict order)
        ["ResidualNet.Blocks"] = 2,
        ["ResidualNet.Models"] = 3,
        ["ResidualNet.Hooks"] = 4,         // the lowest tool: Diagnostics builds on it
        ["ResidualNet.Diagnostics"] = 5,
        ["ResidualNet.Performance"] = 5,
        ["ResidualNet.Weights"] = 5,
        ["ResidualNet.Analysis"] = 5,
    };

    [Fact]
    public void EveryNamespaceOfTheLibraryHasALayer()
    {
        var namespaces = typeof(ResNet).Assembly.GetTypes()
            .Select(t => t.Namespace)
            .Where(n => n is not null && (n == "ResidualNet" || n.StartsWith("ResidualNet.", StringComparison.Ordinal)))
            .Distinct()
            .ToList();

        namespaces.Should().NotBeEmpty();
        namespaces.Where(n => !Ranks.ContainsKey(n!)).Should().BeEmpty(
            "a new namespace must be given its layer here and in docs/architecture.md");
    }

    [Fact]
    public void NoTypeUsesALayerAboveItsOwn()
    {
        var unresolved = new List<string>();
        var references = TypeReferences.Of(typeof(ResNet).Assembly, unresolved);

        var upward = references
            .Where(r => Rank(r.From) is { } from && Rank(r.To) is { } to
                        && r.From.Namespace != r.To.Namespace && to >= from)
            .Select(r => $"{r.From.FullName} ({r.From.Namespace}, layer {Rank(r.From)}) uses {r.To.FullName} ({r.To.Namespace}, layer {Rank(r.To)}) in {r.Where}")
            .Distinct()
            .ToList();

        references.Count.Should().BeGreaterThan(1000, "the scan reads signatures and method bodies of the whole assembly");
        unresolved.Should().BeEmpty("every IL token of the library resolves");
        upward.Should().BeEmpty("code may only use its own layer and the layers below it:\n" + string.Join("\n", upward.Take(40)));
    }

    [Fact]
    public void TheScanSeesAUseThatOnlyAMethodBodyMakes()
    {
        var references = TypeReferences.Of(typeof(Probe.Low.UsesHighInsideABody));

        references.Should().Contain(r => r.To == typeof(Probe.High.Target) && r.Where.StartsWith("IL of Work(", StringComparison.Ordinal));
        references.Should().NotContain(r => r.To == typeof(Probe.High.Target) && !r.Where.StartsWith("IL of", StringComparison.Ordinal),
            "no signature of the probe names the target");
    }

    private static int? Rank(Type type) => type.Namespace is { } n && Ranks.TryGetValue(n, out int rank) ? rank : null;
}

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ResidualNet.Diagnostics;

/// <summary>Writes recorded gradient-flow steps as a text table, CSV or JSON.</summary>
public static class GradientFlowReport
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        // Gradients can be NaN or infinite: written as "NaN", "Infinity", "-Infinity".
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>
    /// A fixed-width text table of one step: the diagnosis, then one row per block (dL/dx at input and output,
    /// activation statistics), then one row per parameter (gradient statistics, update ratio).
    /// </summary>
    /// <param name="step">The recorded step.</param>
    /// <param name="thresholds">Thresholds of the diagnosis line; null for the defaults.</param>
    /// <returns>The table, invariant culture, lines ending with '\n'.</returns>
    public static string ToText(GradientFlowStep step, GradientFlowThresholds? thresholds = null)
    {
        ArgumentNullException.ThrowIfNull(step);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"step {step.Step}: {GradientFlowAnalysis.Diagnose(step, thresholds)}\n");
        if (step.Blocks.Count > 0)
        {
            int width = Math.Max(5, step.Blocks.Max(b => b.Name.Length));
            text.Append(CultureInfo.InvariantCulture, $"{"depth",5}  {"block".PadRight(width)}  {"|dL/dx in|",12}  {"|dL/dx out|",12}  {"act mean",10}  {"act std",10}  {"zeros",7}\n");
            foreach (var b in step.Blocks)
            {
                text.Append(CultureInfo.InvariantCulture,
                    $"{b.Depth,5}  {b.Name.PadRight(width)}  {Format(b.InputGradientNorm),12}  {Format(b.OutputGradientNorm),12}  {Format(b.Activation?.Mean),10}  {Format(b.Activation?.Std),10}  {(b.Activation is null ? "-" : b.Activation.ZeroFraction.ToString("P1", CultureInfo.InvariantCulture)),7}\n");
            }
        }

        if (step.Parameters.Count > 0)
        {
            int width = Math.Max(9, step.Parameters.Max(p => p.Name.Length));
            text.Append(CultureInfo.InvariantCulture, $"{"depth",5}  {"parameter".PadRight(width)}  {"elements",9}  {"|g|2",10}  {"mean|g|",10}  {"max|g|",10}  {"nan/inf",7}  {"update/w",10}\n");
            foreach (var p in step.Parameters)
            {
                text.Append(CultureInfo.InvariantCulture,
                    $"{p.Depth,5}  {p.Name.PadRight(width)}  {p.Elements,9}  {Format(p.L2Norm),10}  {Format(p.MeanAbs),10}  {Format(p.MaxAbs),10}  {p.NonFiniteCount,7}  {Format(p.UpdateToWeightRatio),10}\n");
            }
        }

        return text.ToString();
    }

    /// <summary>
    /// CSV in long form, one row per step and block or parameter, with the header
    /// <c>step,kind,depth,name,elements,input_grad_norm,output_grad_norm,act_mean,act_std,act_zero_fraction,grad_l2,grad_mean_abs,grad_max_abs,non_finite,update_ratio</c>.
    /// Missing values are empty; numbers use the invariant culture ("R" round-trip format).
    /// </summary>
    /// <param name="steps">The recorded steps.</param>
    /// <returns>The CSV text, lines ending with '\n'.</returns>
    public static string ToCsv(IEnumerable<GradientFlowStep> steps)
    {
        ArgumentNullException.ThrowIfNull(steps);
        var csv = new StringBuilder("step,kind,depth,name,elements,input_grad_norm,output_grad_norm,act_mean,act_std,act_zero_fraction,grad_l2,grad_mean_abs,grad_max_abs,non_finite,update_ratio\n");
        foreach (var step in steps)
        {
            foreach (var b in step.Blocks)
            {
                csv.Append(CultureInfo.InvariantCulture,
                    $"{step.Step},block,{b.Depth},{Quote(b.Name)},,{Raw(b.InputGradientNorm)},{Raw(b.OutputGradientNorm)},{Raw(b.Activation?.Mean)},{Raw(b.Activation?.Std)},{Raw(b.Activation?.ZeroFraction)},,,,,\n");
            }

            foreach (var p in step.Parameters)
            {
                csv.Append(CultureInfo.InvariantCulture,
                    $"{step.Step},parameter,{p.Depth},{Quote(p.Name)},{p.Elements},,,,,,{Raw(p.L2Norm)},{Raw(p.MeanAbs)},{Raw(p.MaxAbs)},{p.NonFiniteCount},{Raw(p.UpdateToWeightRatio)}\n");
            }
        }

        return csv.ToString();
    }

    /// <summary>JSON (System.Text.Json, camelCase, indented): an array of steps, NaN and infinities as named literals.</summary>
    /// <param name="steps">The recorded steps.</param>
    /// <returns>The JSON text.</returns>
    public static string ToJson(IEnumerable<GradientFlowStep> steps)
    {
        ArgumentNullException.ThrowIfNull(steps);
        return JsonSerializer.Serialize(steps.ToList(), JsonOptions);
    }

    /// <summary>Reads steps written by <see cref="ToJson"/>.</summary>
    /// <param name="json">The JSON text.</param>
    /// <returns>The steps.</returns>
    /// <exception cref="JsonException">The text is not such a document.</exception>
    public static IReadOnlyList<GradientFlowStep> FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        return JsonSerializer.Deserialize<List<GradientFlowStep>>(json, JsonOptions)
            ?? throw new JsonException("The JSON document is null, not an array of steps.");
    }

    /// <summary>Writes <see cref="ToCsv"/> to a file (UTF-8, no BOM).</summary>
    /// <param name="steps">The recorded steps.</param>
    /// <param name="path">The file to create or overwrite.</param>
    public static void WriteCsv(IEnumerable<GradientFlowStep> steps, string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        File.WriteAllText(path, ToCsv(steps));
    }

    /// <summary>Writes <see cref="ToJson"/> to a file (UTF-8, no BOM).</summary>
    /// <param name="steps">The recorded steps.</param>
    /// <param name="path">The file to create or overwrite.</param>
    public static void WriteJson(IEnumerable<GradientFlowStep> steps, string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        File.WriteAllText(path, ToJson(steps));
    }

    private static string Format(double? value) => value switch
    {
        null => "-",
        { } v when double.IsNaN(v) => "NaN",
        { } v => v.ToString("0.000E+00", CultureInfo.InvariantCulture),
    };

    private static string Raw(double? value) => value?.ToString("R", CultureInfo.InvariantCulture) ?? string.Empty;

    private static string Quote(string name) =>
        name.IndexOfAny([',', '"', '\n', '\r']) < 0 ? name : "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}

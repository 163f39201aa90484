using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text.Json;
using System.Threading;
using ResidualNet.Data;
using ResidualNet.Performance;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ResidualNet.Samples.Training;

/// <summary>What <see cref="ClassifierTrainer.Train"/> did.</summary>
/// <param name="History">One result per finished epoch (including epochs restored from a checkpoint).</param>
/// <param name="Cancelled">Whether training stopped early on the cancellation token.</param>
/// <param name="ResumedFrom">Where training resumed (epoch, batch), or <see langword="null"/> for a fresh start.</param>
/// <param name="StoppedAt">Where a cancelled run stopped (epoch, next batch); the checkpoint resumes there.</param>
public sealed record TrainingRun(IReadOnlyList<EpochResult> History, bool Cancelled, (int Epoch, int Batch)? ResumedFrom, (int Epoch, int Batch)? StoppedAt);

/// <summary>
/// Trains any <c>Module&lt;Tensor, Tensor&gt;</c> classifier (logits N x classes) with SGD + momentum, weight decay and
/// a step or cosine schedule; measures per-epoch training and test error; saves a checkpoint after every epoch and
/// when cancelled, and resumes from it. Data order and augmentation depend only on (seed, epoch, batch), and the
/// optimizer's momentum is saved, so a resumed run continues where the interrupted one stopped.
/// </summary>
public sealed class ClassifierTrainer
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    private readonly string _name;
    private readonly nn.Module<Tensor, Tensor> _model;
    private readonly TrainingOptions _options;

    /// <summary>Creates a trainer.</summary>
    /// <param name="name">Model name (checkpoint file names; letters, digits, '-', '_' and '.').</param>
    /// <param name="model">The classifier; its parameters are trained in place.</param>
    /// <param name="options">Training settings.</param>
    public ClassifierTrainer(string name, nn.Module<Tensor, Tensor> model, TrainingOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        if (name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name.Contains(' ', StringComparison.Ordinal))
        {
            throw new ArgumentException($"{nameof(name)} must be usable as a file name; got '{name}'.", nameof(name));
        }

        options.Validate();
        _name = name;
        _model = model;
        _options = options;
    }

    /// <summary>Paths of this model's checkpoint files.</summary>
    public (string Weights, string Optimizer, string State)? CheckpointPaths =>
        _options.CheckpointDirectory is { } dir
            ? (Path.Combine(dir, _name + ".weights"), Path.Combine(dir, _name + ".optimizer"), Path.Combine(dir, _name + ".state.json"))
            : null;

    /// <summary>Whether a checkpoint of this model exists.</summary>
    public bool HasCheckpoint => CheckpointPaths is { } p && File.Exists(p.State) && File.Exists(p.Weights) && File.Exists(p.Optimizer);

    /// <summary>
    /// Trains for <see cref="TrainingOptions.Epochs"/> epochs (or what remains of them when resuming). Checks the token
    /// after every batch: when cancelled it saves a checkpoint (if a folder is set) and returns with
    /// <see cref="TrainingRun.Cancelled"/> set.
    /// </summary>
    /// <param name="train">Training set.</param>
    /// <param name="test">Test set (evaluated after every epoch).</param>
    /// <param name="resume">Continue from the checkpoint if one exists.</param>
    /// <param name="observer">Progress receiver, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Stops training after the current batch.</param>
    /// <returns>The history and how the run ended.</returns>
    public TrainingRun Train(ImageDataSet train, ImageDataSet test, bool resume, ITrainingObserver? observer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        observer ??= new NullObserver();
        if (_options.Precision == TrainingPrecision.BFloat16)
        {
            if (resume && HasCheckpoint)
            {
                throw new SampleException("--resume works with fp32 training only; rerun without --resume or with --precision fp32.");
            }

            return TrainMixed(train, test, observer, cancellationToken);
        }

        var parameters = _model.parameters();
        using var optimizer = optim.SGD(parameters, _options.LearningRate, momentum: _options.Momentum, dampening: 0, weight_decay: _options.WeightDecay);
        var batchOptions = new BatchOptions { BatchSize = _options.BatchSize, Shuffle = true, Seed = _options.Seed, Augmentation = _options.Augmentation };
        int batchCount = train.BatchCount(_options.BatchSize);

        var history = new List<EpochResult>();
        int startEpoch = 0, startBatch = 0;
        double lossSum = 0, seconds = 0;
        long wrong = 0, seen = 0;
        (int, int)? resumedFrom = null;
        if (resume && HasCheckpoint)
        {
            var state = LoadCheckpoint(optimizer, train.Count);
            history.AddRange(state.History);
            startEpoch = state.CompletedEpochs;
            startBatch = state.NextBatch;
            lossSum = state.PartialLossSum;
            wrong = state.PartialWrong;
            seen = state.PartialSeen;
            seconds = state.PartialSeconds;
            resumedFrom = (startEpoch, startBatch);
        }

        for (int epoch = startEpoch; epoch < _options.Epochs; epoch++)
        {
            var clock = Stopwatch.StartNew();
            double rate = _options.LearningRate;
            _model.train();
            foreach (var batch in train.GetBatches(batchOptions, epoch, epoch == startEpoch ? startBatch : 0))
            {
                rate = _options.LearningRateAt(epoch, batch.Index, batchCount);
                foreach (var group in optimizer.ParamGroups)
                {
                    group.LearningRate = rate;
                }

                double loss;
                using (var scope = NewDisposeScope())
                {
                    optimizer.zero_grad();
                    var logits = _model.call(batch.Images);
                    var lossTensor = nn.functional.cross_entropy(logits, batch.Labels);
                    lossTensor.backward();
                    optimizer.step();
                    loss = lossTensor.item<float>();
                    wrong += logits.argmax(1).ne(batch.Labels).sum().item<long>();
                }

                lossSum += loss * batch.Size;
                seen += batch.Size;
                observer.BatchCompleted(epoch, batch.Index, batchCount, loss);
                if (cancellationToken.IsCancellationRequested && batch.Index < batchCount - 1)
                {
                    var state = State(history, epoch, batch.Index + 1, lossSum, wrong, seen, seconds + clock.Elapsed.TotalSeconds, train.Count);
                    SaveCheckpoint(optimizer, state);
                    return new TrainingRun(history, true, resumedFrom, (epoch, batch.Index + 1));
                }
            }

            var evaluation = Evaluate(_model, test, _options.EvaluationBatchSize);
            var result = new EpochResult(epoch + 1, lossSum / Math.Max(1, seen), (double)wrong / Math.Max(1, seen), evaluation.Loss, evaluation.Error, rate, seconds + clock.Elapsed.TotalSeconds);
            history.Add(result);
            lossSum = 0;
            wrong = 0;
            seen = 0;
            seconds = 0;
            SaveCheckpoint(optimizer, State(history, epoch + 1, 0, 0, 0, 0, 0, train.Count));
            observer.EpochCompleted(result);
            if (cancellationToken.IsCancellationRequested && epoch + 1 < _options.Epochs)
            {
                return new TrainingRun(history, true, resumedFrom, (epoch + 1, 0));
            }
        }

        return new TrainingRun(history, false, resumedFrom, null);
    }

    /// <summary>Mean loss and error of a classifier on a data set (evaluation mode, no gradients, no augmentation).</summary>
    /// <param name="model">The classifier; left in evaluation mode.</param>
    /// <param name="data">The data.</param>
    /// <param name="batchSize">Batch size.</param>
    /// <returns>Loss, error and sample count.</returns>
    public static Evaluation Evaluate(nn.Module<Tensor, Tensor> model, ImageDataSet data, int batchSize = 1000) => Evaluate(model, data, batchSize, null);

    /// <summary>As <see cref="Evaluate(nn.Module{Tensor, Tensor}, ImageDataSet, int)"/>, converting every input batch
    /// first (for example to bf16 and channels_last for a model prepared for fast inference).</summary>
    /// <param name="model">The classifier; left in evaluation mode.</param>
    /// <param name="data">The data.</param>
    /// <param name="batchSize">Batch size.</param>
    /// <param name="prepareInput">Converts an fp32 batch to what the model expects, or <see langword="null"/>.</param>
    /// <returns>Loss, error and sample count.</returns>
    public static Evaluation Evaluate(nn.Module<Tensor, Tensor> model, ImageDataSet data, int batchSize, Func<Tensor, Tensor>? prepareInput)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        model.eval();
        double lossSum = 0;
        long wrong = 0;
        using var noGrad = no_grad();
        foreach (var batch in data.GetBatches(new BatchOptions { BatchSize = batchSize, Shuffle = false }))
        {
            using var scope = NewDisposeScope();
            var logits = model.call(prepareInput is null ? batch.Images : prepareInput(batch.Images)).to(ScalarType.Float32);
            lossSum += nn.functional.cross_entropy(logits, batch.Labels, reduction: nn.Reduction.Sum).item<float>();
            wrong += logits.argmax(1).ne(batch.Labels).sum().item<long>();
        }

        return new Evaluation(lossSum / data.Count, (double)wrong / data.Count, data.Count);
    }

    /// <summary>The predicted class of every sample (evaluation mode, no gradients, no augmentation).</summary>
    /// <param name="model">The classifier; left in evaluation mode.</param>
    /// <param name="data">The data.</param>
    /// <param name="batchSize">Batch size.</param>
    /// <param name="prepareInput">Converts an fp32 batch to what the model expects, or <see langword="null"/>.</param>
    /// <returns>One class index per sample, in data order.</returns>
    public static long[] Predict(nn.Module<Tensor, Tensor> model, ImageDataSet data, int batchSize = 1000, Func<Tensor, Tensor>? prepareInput = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        model.eval();
        var predictions = new List<long>(data.Count);
        using var noGrad = no_grad();
        foreach (var batch in data.GetBatches(new BatchOptions { BatchSize = batchSize, Shuffle = false }))
        {
            using var scope = NewDisposeScope();
            var logits = model.call(prepareInput is null ? batch.Images : prepareInput(batch.Images)).to(ScalarType.Float32);
            predictions.AddRange(logits.argmax(1).data<long>().ToArray());
        }

        return [.. predictions];
    }

    /// <summary>bf16 mixed-precision training (fp32 master weights, <see cref="MixedPrecisionTrainer"/>); no checkpoints.
    /// The model is turned back into fp32 (with the master weights) when training ends or stops.</summary>
    private TrainingRun TrainMixed(ImageDataSet train, ImageDataSet test, ITrainingObserver observer, CancellationToken cancellationToken)
    {
        var batchOptions = new BatchOptions { BatchSize = _options.BatchSize, Shuffle = true, Seed = _options.Seed, Augmentation = _options.Augmentation };
        int batchCount = train.BatchCount(_options.BatchSize);
        var history = new List<EpochResult>();
        var mixed = new MixedPrecisionTrainer(
            _model,
            ps => optim.SGD(ps, _options.LearningRate, momentum: _options.Momentum, dampening: 0, weight_decay: _options.WeightDecay),
            MixedPrecisionOptions.BFloat16);
        try
        {
            for (int epoch = 0; epoch < _options.Epochs; epoch++)
            {
                var clock = Stopwatch.StartNew();
                double rate = _options.LearningRate, lossSum = 0;
                long wrong = 0, seen = 0;
                _model.train();
                foreach (var batch in train.GetBatches(batchOptions, epoch, 0))
                {
                    rate = _options.LearningRateAt(epoch, batch.Index, batchCount);
                    foreach (var group in mixed.Optimizer.ParamGroups)
                    {
                        group.LearningRate = rate;
                    }

                    long batchWrong = 0;
                    var labels = batch.Labels;
                    var step = mixed.Step(batch.Images, logits =>
                    {
                        batchWrong = logits.argmax(1).ne(labels).sum().item<long>();
                        return nn.functional.cross_entropy(logits, labels);
                    });
                    wrong += batchWrong;
                    lossSum += step.Loss * batch.Size;
                    seen += batch.Size;
                    observer.BatchCompleted(epoch, batch.Index, batchCount, step.Loss);
                    if (cancellationToken.IsCancellationRequested && batch.Index < batchCount - 1)
                    {
                        return new TrainingRun(history, true, null, (epoch, batch.Index + 1));
                    }
                }

                var evaluation = Evaluate(_model, test, _options.EvaluationBatchSize, images => images.to(ScalarType.BFloat16));
                var result = new EpochResult(epoch + 1, lossSum / Math.Max(1, seen), (double)wrong / Math.Max(1, seen), evaluation.Loss, evaluation.Error, rate, clock.Elapsed.TotalSeconds);
                history.Add(result);
                observer.EpochCompleted(result);
                if (cancellationToken.IsCancellationRequested && epoch + 1 < _options.Epochs)
                {
                    return new TrainingRun(history, true, null, (epoch + 1, 0));
                }
            }

            return new TrainingRun(history, false, null, null);
        }
        finally
        {
            mixed.ToFullPrecision();
        }
    }

    private TrainingState State(List<EpochResult> history, int completed, int nextBatch, double lossSum, long wrong, long seen, double seconds, int trainCount) => new()
    {
        Name = _name,
        Epochs = _options.Epochs,
        BatchSize = _options.BatchSize,
        Seed = _options.Seed,
        TrainCount = trainCount,
        LearningRate = _options.LearningRate,
        Schedule = _options.Schedule.ToString(),
        CompletedEpochs = completed,
        NextBatch = nextBatch,
        PartialLossSum = lossSum,
        PartialWrong = wrong,
        PartialSeen = seen,
        PartialSeconds = seconds,
        History = [.. history],
    };

    private void SaveCheckpoint(SGD optimizer, TrainingState state)
    {
        if (CheckpointPaths is not { } paths)
        {
            return;
        }

        Directory.CreateDirectory(_options.CheckpointDirectory!);

        // Write everything to temporary files first, then move them in place, so an interruption never leaves
        // a half-written checkpoint behind.
        _model.save(paths.Weights + ".tmp");
        optimizer.save_state_dict(paths.Optimizer + ".tmp");
        File.WriteAllText(paths.State + ".tmp", JsonSerializer.Serialize(state, JsonOptions));
        File.Move(paths.Weights + ".tmp", paths.Weights, overwrite: true);
        File.Move(paths.Optimizer + ".tmp", paths.Optimizer, overwrite: true);
        File.Move(paths.State + ".tmp", paths.State, overwrite: true);
    }

    private TrainingState LoadCheckpoint(SGD optimizer, int trainCount)
    {
        var paths = CheckpointPaths!.Value;
        TrainingState state;
        try
        {
            state = JsonSerializer.Deserialize<TrainingState>(File.ReadAllText(paths.State))
                ?? throw new SampleException($"checkpoint state '{paths.State}' is empty.");
        }
        catch (JsonException e)
        {
            throw new SampleException($"checkpoint state '{paths.State}' is not valid JSON ({e.Message}); delete it or run without --resume.", e);
        }

        void Expect<T>(string what, T saved, T now)
        {
            if (!EqualityComparer<T>.Default.Equals(saved, now))
            {
                throw new SampleException(
                    $"checkpoint '{paths.State}' was made with {what} {saved}, this run uses {now}; rerun with the same settings or without --resume.");
            }
        }

        Expect("format", state.Format, 1);
        Expect("model", state.Name, _name);
        Expect("epochs", state.Epochs, _options.Epochs);
        Expect("batch size", state.BatchSize, _options.BatchSize);
        Expect("seed", state.Seed, _options.Seed);
        Expect("training-set size", state.TrainCount, trainCount);
        Expect("learning rate", state.LearningRate, _options.LearningRate);
        Expect("schedule", state.Schedule, _options.Schedule.ToString());
        if (state.CompletedEpochs < 0 || state.CompletedEpochs > state.Epochs || state.History.Count != state.CompletedEpochs)
        {
            throw new SampleException($"checkpoint '{paths.State}' is inconsistent ({state.CompletedEpochs} epochs done, {state.History.Count} results).");
        }

        _model.load(paths.Weights);
        optimizer.load_state_dict(paths.Optimizer);
        return state;
    }

    private sealed class NullObserver : ITrainingObserver;
}

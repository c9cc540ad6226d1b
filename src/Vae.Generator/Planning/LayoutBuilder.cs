using System.Collections.Generic;
using System.Linq;
using Vae.Generator.Specs;

namespace Vae.Generator.Planning
{
    /// <summary>
    /// Collects what ops declare, in declaration order: tensors of the flat layout (offsets assigned here and nowhere
    /// else), buffers and named constants. The total is kept in double, so a model too large for int offsets is
    /// counted rather than wrapped; the parser reports it before any plan is emitted.
    /// </summary>
    internal sealed class LayoutBuilder
    {
        private readonly List<TensorPlan> _tensors = new List<TensorPlan>();
        private readonly List<BufferPlan> _buffers = new List<BufferPlan>();
        private readonly List<ConstantPlan> _constants = new List<ConstantPlan>();

        /// <summary>Floats in the flat parameter buffer so far.</summary>
        public double Total { get; private set; }

        /// <summary>Declares a tensor and returns its offset in the flat buffer.</summary>
        public int Tensor(string name, TensorRole role, int fanIn, params int[] shape)
        {
            double length = shape.Aggregate(1.0, (a, b) => a * b);
            int offset = (int)System.Math.Min(Total, int.MaxValue);
            if (Total + length <= int.MaxValue)
                _tensors.Add(new TensorPlan(name, new EquatableArray<int>(shape), role, offset, (int)length, fanIn));
            Total += length;
            return offset;
        }

        public void Buffer(string name, int width, string widthName, RowSpace rows, BufferKind kind, string comment) =>
            _buffers.Add(new BufferPlan(name, width, widthName, rows, kind, comment));

        public void Constant(ConstantPlan constant)
        {
            if (_constants.All(c => c.Name != constant.Name)) _constants.Add(constant);
        }

        public string IntConstant(string name, int value, string expression, string comment)
        {
            Constant(ConstantPlan.Int(name, Ops.Op.Macro(name), value, expression, comment));
            return name;
        }

        public EquatableArray<TensorPlan> Tensors => new EquatableArray<TensorPlan>(_tensors.ToArray());
        public EquatableArray<BufferPlan> Buffers => new EquatableArray<BufferPlan>(_buffers.ToArray());
        public EquatableArray<ConstantPlan> Constants => new EquatableArray<ConstantPlan>(_constants.ToArray());
        public int Width(string buffer) => _buffers.First(b => b.Name == buffer).Width;
    }
}

"""A split into 24 branches written out, a graph far wider than a page, joined by a step whose
name is far longer than its box."""

from headwater import FlowSpec, step


class WideSplitFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.branch_00, self.branch_01, self.branch_02, self.branch_03,
                  self.branch_04, self.branch_05, self.branch_06, self.branch_07,
                  self.branch_08, self.branch_09, self.branch_10, self.branch_11,
                  self.branch_12, self.branch_13, self.branch_14, self.branch_15,
                  self.branch_16, self.branch_17, self.branch_18, self.branch_19,
                  self.branch_20, self.branch_21, self.branch_22, self.branch_23)

    @step
    def branch_00(self):
        self.next(self.join_every_branch_and_compare_their_results_side_by_side)

    @step
    def branch_01(self):
        self.next(self.join_every_branch_and_compare_their_results_side_by_side)

    @step
    def branch_02(self):
        self.next(self.join_every_branch_and_compare_their_results_side_by_side)

    @step
    def branch_03(self):
        self.next(self.join_every_branch_and_compare_their_results_side_by_side)

    @step
    def branch_04(self):
        self.next(self.join_every_branch_and_compare_their_results_side_by_side)

    @step
    def branch_05(self):
        self.next(self.join_every_branch_and_compare_their_results_side_by_side)

    @step
    def branch_06(self):
        self.next(self.join_every_branch_and_compare_their_results_side_by_side)

    @step
    def branch_07(self):
        self.next(self.join_every_branch_and_compare_their_results_side_by_side)

    @step
    def branch_08(self):
        self.next(self.join_every_branch_and_compare_their_results_side_by_side)

    @step
    def branch_09(self):
        self.next(self.join_every_branch_and_compare_their_results_side_by_side)

    @step
    def branch_10(self):
        self.next(self.join_every_branch_and_compare_their_results_side_by_side)

    @step
    def branch_11(self):
        self.next(self.join_every_branch_and_compare_their_results_side_by_side)

    @step
    def branch_12(self):
        self.next(self.join_every_branch_and_compare_their_results_side_by_side)

    @step
    def branch_13(self):
        self.next(self.join_every_branch_and_compare_their_results_side_by_side)

    @step
    def branch_14(self):
        self.next(self.join_every_branch_and_compare_their_results_side_by_side)

    @step
    def branch_15(self):
        self.next(self.join_every_branch_and_compare_their_results_side_by_side)

    @step
    def branch_16(self):
        self.next(self.join_every_branch_and_compare_their_results_side_by_side)

    @step
    def branch_17(self):
        self.next(self.join_every_branch_and_compare_their_results_side_by_side)

    @step
    def branch_18(self):
        self.next(self.join_every_branch_and_compare_their_results_side_by_side)

    @step
    def branch_19(self):
        self.next(self.join_every_branch_and_compare_their_results_side_by_side)

    @step
    def branch_20(self):
        self.next(self.join_every_branch_and_compare_their_results_side_by_side)

    @step
    def branch_21(self):
        self.next(self.join_every_branch_and_compare_their_results_side_by_side)

    @step
    def branch_22(self):
        self.next(self.join_every_branch_and_compare_their_results_side_by_side)

    @step
    def branch_23(self):
        self.next(self.join_every_branch_and_compare_their_results_side_by_side)

    @step
    def join_every_branch_and_compare_their_results_side_by_side(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    WideSplitFlow()
